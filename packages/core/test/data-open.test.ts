import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNpy } from '../src/calibrate/data/npy.js';
import { detectDataKind, openCalibrationData } from '../src/calibrate/data/open.js';
import { CALIB_64, FMNIST_INPUT, IMAGES, collect, expectDataErrorAsync, makeTmp } from './fixtures/data/helpers.js';

let tmp: string;
beforeAll(() => {
  tmp = makeTmp('open');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('openCalibrationData', () => {
  it('detects npy files, image folders and modules', async () => {
    expect(await detectDataKind(CALIB_64)).toBe('npy');
    expect(await detectDataKind(IMAGES)).toBe('images');
    expect(await detectDataKind(path.join(IMAGES, 'a/img_0.png'))).toBe('images');
    const mod = path.join(tmp, 'data.mjs');
    fs.writeFileSync(mod, `export default [{ type: 'float32', dims: [1, 1, 28, 28], data: new Float32Array(784) }];`);
    expect(await detectDataKind(mod)).toBe('module');

    const opts = { modelInputs: [FMNIST_INPUT], batchSize: 16 };
    expect((await collect(await openCalibrationData(CALIB_64, opts))).length).toBe(4);
    expect((await collect(await openCalibrationData(IMAGES, opts)))[0]!.samples).toBe(6);
    expect((await collect(await openCalibrationData(path.join(IMAGES, 'b/img_3.png'), opts)))[0]!.samples).toBe(1);
    expect((await collect(await openCalibrationData(mod, opts))).length).toBe(1);
  });

  it('errors: missing path, unknown type, mixed folder, empty folder', async () => {
    await expectDataErrorAsync(openCalibrationData(path.join(tmp, 'nothing')), 'not-found', /nothing: no such file or folder/);
    const csv = path.join(tmp, 'data.csv');
    fs.writeFileSync(csv, '1,2,3');
    await expectDataErrorAsync(openCalibrationData(csv), 'invalid-option', /data\.csv: unknown calibration data type '\.csv'/);
    const mixed = path.join(tmp, 'mixed');
    fs.mkdirSync(mixed);
    writeNpy(path.join(mixed, 'a.npy'), new Float32Array(784), [1, 1, 28, 28]);
    fs.copyFileSync(path.join(IMAGES, 'a/img_0.png'), path.join(mixed, 'b.png'));
    await expectDataErrorAsync(openCalibrationData(mixed), 'invalid-option', /holds both \.npy files \(1\) and images \(1\)/);
    expect((await collect(await openCalibrationData(mixed, { kind: 'npy', modelInputs: [FMNIST_INPUT] })))[0]!.samples).toBe(1);
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    await expectDataErrorAsync(openCalibrationData(empty), 'empty', new RegExp(`^no calibration samples in ${empty}`));
  });
});
