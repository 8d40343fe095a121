// One vocabulary across API, config and CLI: calibration data / method / options /
// inputMethod (config keys; CLI --calibration-*; calibrate()'s method/options), older
// spellings kept; method names in any case, with the anchors' aliases and a "did you mean".
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import calibrators from '@qdeploy/calibrators';
import { arraySource, calibrate, definePattern, ensureCalibrator, input, insertQdq, loadModel, op, openNpy, toForwardLoop, transform, usePlugin } from '../src/index.js';
import { METHOD_ALIASES, canonicalMethod } from '../src/plugins/method-names.js';
import { vendored } from './helpers/fixtures.js';
import { CALIB_32, RESNET_BN, makeTmp, requireBuilt, runCli } from './fixtures/cli/helpers.js';

let tmp: string;
beforeAll(async () => {
  requireBuilt();
  tmp = makeTmp('vocab');
  await usePlugin(calibrators);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const CONV = definePattern({ name: 'Conv', root: op(['Conv', 'Gemm'], [input('input')]), qdqPoints: ['input'] });
const images = openNpy(CALIB_32).readRows(0, 16) as Float32Array;
const loop = () => toForwardLoop(arraySource(images, { shape: [16, 1, 28, 28], batchSize: 16 }));
const quantized = () => {
  const { model, matches } = transform(loadModel(vendored('fmnist_resnet.onnx')), { patterns: [CONV] });
  return insertQdq(model, matches);
};

describe('method names', () => {
  it('any case, and the anchors\' names: max, MinMax, Entropy, Percentile', () => {
    const known = ['entropy', 'minmax', 'mse', 'percentile'];
    expect(['max', 'MAX', 'MinMax', 'minMax', 'min-max'].map((n) => canonicalMethod(n, known))).toEqual(Array(5).fill('minmax'));
    expect(canonicalMethod('Entropy', known)).toBe('entropy');
    expect(canonicalMethod('Percentile', known)).toBe('percentile');
    expect(canonicalMethod('KL', known)).toBe('entropy');
    expect(canonicalMethod('MSE', known)).toBe('mse');
    expect(canonicalMethod('histogram', known)).toBe('histogram');
    expect(Object.values(METHOD_ALIASES).every((m) => known.includes(m))).toBe(true);
  });

  it('ensureCalibrator returns the canonical name, and suggests one for a typo', async () => {
    expect(await ensureCalibrator('MinMax')).toBe('minmax');
    await expect(ensureCalibrator('entrpy')).rejects.toThrow(/unknown calibration method "entrpy" \(did you mean "entropy"\?\)/);
    await expect(ensureCalibrator('maxx')).rejects.toThrow(/did you mean "minmax"\?/);
  });

  it('calibrate() takes the config\'s words (method, options) and names in any case', async () => {
    const r = await calibrate(quantized(), loop(), { method: 'Percentile', options: { percentile: 99.9 } });
    expect(r.method).toBe('percentile');
    const old = await calibrate(quantized(), loop(), { calibrator: 'max' });
    expect(old.method).toBe('minmax');
    await expect(calibrate(quantized(), loop(), { method: 'msee' })).rejects.toThrow(/did you mean "mse"\?/);
  });
});

describe('CLI flags are the config keys', () => {
  it('--calibration-data / --calibration-method / --calibration-option, method in any case', async () => {
    const out = path.join(tmp, 'new.onnx');
    const r = await runCli(['quantize', RESNET_BN, '-o', out, '--calibration-data', CALIB_32, '--calibration-method', 'Percentile', '--calibration-option', 'percentile=99.9', '--limit', '16', '--batch-size', '16', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).calibration.method).toBe('percentile');
  });

  it('the older spellings still work: --calib / --calibrator max', async () => {
    const r = await runCli(['quantize', RESNET_BN, '-o', path.join(tmp, 'old.onnx'), '--calib', CALIB_32, '--calibrator', 'max', '--limit', '16', '--batch-size', '16', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).calibration.method).toBe('minmax');
  });

  it('a mistyped method: exit 2 with a "did you mean"', async () => {
    const r = await runCli(['quantize', RESNET_BN, '-o', path.join(tmp, 'typo.onnx'), '--calibration-data', CALIB_32, '--calibration-method', 'entrophy']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown calibration method "entrophy" \(did you mean "entropy"\?\)/);
  });
});
