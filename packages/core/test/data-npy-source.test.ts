import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpyHeader, writeNpy } from '../src/calibrate/data/npy.js';
import { npySource } from '../src/calibrate/data/npy-source.js';
import { toForwardLoop } from '../src/calibrate/data/forward-loop.js';
import { CALIB_64, FMNIST_INPUT, collect, expectDataErrorAsync, makeTmp, manualFloat32 } from './fixtures/data/helpers.js';

let tmp: string;
beforeAll(() => {
  tmp = makeTmp('npysrc');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const all = manualFloat32(CALIB_64);

describe('npySource', () => {
  it('batches a file, the last batch short, data in order', async () => {
    const source = await npySource(CALIB_64, { modelInputs: [FMNIST_INPUT], batchSize: 10 });
    expect(source.totalSamples).toBe(64);
    expect(source.totalBatches).toBe(7);
    expect(source.description).toBe(CALIB_64);
    const batches = await collect(source);
    expect(batches.map((b) => b.samples)).toEqual([10, 10, 10, 10, 10, 10, 4]);
    expect(batches.map((b) => b.index)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const t = batches[6]!.inputs.input!;
    expect(t.type).toBe('float32');
    expect(t.dims).toEqual([4, 1, 28, 28]);
    expect(t.data).toEqual(all.subarray(60 * 784));
    const joined = new Float32Array(64 * 784);
    let o = 0;
    for (const b of batches) {
      joined.set(b.inputs.input!.data as Float32Array, o);
      o += b.samples * 784;
    }
    expect(joined).toEqual(all);
  });

  it('defaults to batches of 32 and can be iterated again', async () => {
    const source = await npySource(CALIB_64, { modelInputs: [FMNIST_INPUT] });
    const a = await collect(source);
    const b = await collect(source);
    expect(a.map((x) => x.samples)).toEqual([32, 32]);
    expect(b[1]!.inputs.input!.data).toEqual(a[1]!.inputs.input!.data);
  });

  it('limit cuts the data set', async () => {
    const source = await npySource(CALIB_64, { inputName: 'input', batchSize: 10, limit: 25 });
    expect(source.totalSamples).toBe(25);
    expect(source.totalBatches).toBe(3);
    const batches = await collect(source);
    expect(batches.map((b) => b.samples)).toEqual([10, 10, 5]);
    expect(batches[2]!.inputs.input!.data).toEqual(all.subarray(20 * 784, 25 * 784));
    const big = await npySource(CALIB_64, { inputName: 'input', limit: 1000 });
    expect(big.totalSamples).toBe(64);
  });

  it('reads a folder of single C×H×W samples (recursive, sorted) across files', async () => {
    const dir = path.join(tmp, 'samples');
    fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
    const names = ['s0.npy', 's1.npy', 's2.npy', 'sub/s3.npy', 'sub/s4.npy'];
    names.forEach((n, i) => writeNpy(path.join(dir, n), all.slice(i * 784, (i + 1) * 784), [1, 28, 28]));
    fs.writeFileSync(path.join(dir, '.hidden.npy'), 'not npy');
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'ignored');
    const source = await npySource(dir, { modelInputs: [FMNIST_INPUT], batchSize: 2 });
    expect(source.totalSamples).toBe(5);
    const batches = await collect(source);
    expect(batches.map((b) => b.samples)).toEqual([2, 2, 1]);
    expect(batches[1]!.inputs.input!.dims).toEqual([2, 1, 28, 28]);
    expect(batches[1]!.inputs.input!.data).toEqual(all.subarray(2 * 784, 4 * 784));
    expect(batches[2]!.inputs.input!.data).toEqual(all.subarray(4 * 784, 5 * 784));
  });

  it('reads a folder of N×C×H×W files, a batch spanning files', async () => {
    const dir = path.join(tmp, 'batched');
    fs.mkdirSync(dir);
    writeNpy(path.join(dir, 'part-a.npy'), all.slice(0, 3 * 784), [3, 1, 28, 28]);
    writeNpy(path.join(dir, 'part-b.npy'), all.slice(3 * 784, 5 * 784), [2, 1, 28, 28]);
    const batches = await collect(await npySource(dir, { modelInputs: [FMNIST_INPUT], batchSize: 4 }));
    expect(batches.map((b) => b.samples)).toEqual([4, 1]);
    expect(batches[0]!.inputs.input!.data).toEqual(all.subarray(0, 4 * 784));
    expect(batches[1]!.inputs.input!.data).toEqual(all.subarray(4 * 784, 5 * 784));
  });

  it('applies a per-channel uint8 normalisation with exact values', async () => {
    // 2 samples × 3 channels × 2×2
    const raw = new Uint8Array(24);
    for (let i = 0; i < 24; i++) raw[i] = (i * 37) % 256;
    raw[0] = 255;
    raw[4] = 0;
    const file = path.join(tmp, 'u8.npy');
    writeNpy(file, raw, [2, 3, 2, 2]);
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    const source = await npySource(file, {
      modelInputs: [{ name: 'image', dims: [-1, 3, 2, 2], type: 'float32' }],
      normalize: { scale: 1 / 255, mean, std },
    });
    const [batch] = await collect(source);
    const t = batch!.inputs.image!;
    expect(t.type).toBe('float32');
    expect(t.dims).toEqual([2, 3, 2, 2]);
    const data = t.data as Float32Array;
    expect(data[0]).toBe(Math.fround((1 - 0.485) / 0.229)); // 255 in channel 0
    expect(data[4]).toBe(Math.fround((0 - 0.456) / 0.224)); // 0 in channel 1
    for (let i = 0; i < 24; i++) {
      const c = Math.floor(i / 4) % 3;
      expect(data[i]).toBe(Math.fround((raw[i]! * (1 / 255) - mean[c]!) / std[c]!));
    }
  });

  it('one mean/std value applies to every channel; float data can be normalised too', async () => {
    const file = path.join(tmp, 'f32.npy');
    writeNpy(file, new Float32Array([2, 4, 6, 8]), [1, 2, 2]);
    const [b] = await collect(await npySource(file, { inputName: 'x', normalize: { mean: 2, std: 2 } }));
    expect(Array.from(b!.inputs.x!.data as Float32Array)).toEqual([0, 1, 2, 3]);
  });

  it('uint8 data for a float model without normalisation is refused early', async () => {
    const file = path.join(tmp, 'u8-plain.npy');
    writeNpy(file, new Uint8Array(784 * 2), [2, 1, 28, 28]);
    await expectDataErrorAsync(npySource(file, { modelInputs: [FMNIST_INPUT] }), 'dtype-mismatch', /u8-plain\.npy holds uint8 data but model input 'input' is float32/, /normalisation/);
    // a uint8 model input takes it as is
    const [b] = await collect(await npySource(file, { modelInputs: [{ ...FMNIST_INPUT, type: 'uint8' }] }));
    expect(b!.inputs.input!.type).toBe('uint8');
  });

  it('float64 files become float32 tensors', async () => {
    const file = path.join(tmp, 'f64.npy');
    writeNpy(file, new Float64Array([0.1, 0.2, 0.3, 0.4]), [2, 2]);
    const [b] = await collect(await npySource(file, { inputName: 'x' }));
    expect(b!.inputs.x!.type).toBe('float32');
    expect(b!.inputs.x!.data).toEqual(Float32Array.from([0.1, 0.2, 0.3, 0.4]));
  });

  it('errors: bad normalisation, shapes, inconsistent files, empty, unknown input name', async () => {
    await expectDataErrorAsync(
      npySource(CALIB_64, { modelInputs: [FMNIST_INPUT], normalize: { mean: [0.1, 0.2, 0.3] } }),
      'invalid-option',
      /mean has 3 values but the data has 1 channels/,
    );
    const flat = path.join(tmp, 'flat.npy');
    writeNpy(flat, new Float32Array(4 * 784), [4, 784]);
    await expectDataErrorAsync(
      npySource(flat, { modelInputs: [FMNIST_INPUT] }),
      'shape-mismatch',
      /flat\.npy: shape \[4, 784\] is neither a batch \(rank 4\) nor one sample \(rank 3\) of model input 'input' \[batch, 1, 28, 28\]/,
    );
    const mixed = path.join(tmp, 'mixed');
    fs.mkdirSync(mixed);
    writeNpy(path.join(mixed, 'a.npy'), new Float32Array(784), [1, 1, 28, 28]);
    writeNpy(path.join(mixed, 'b.npy'), new Float32Array(784), [1, 2, 28, 14]);
    await expectDataErrorAsync(npySource(mixed, { modelInputs: [FMNIST_INPUT] }), 'inconsistent-files', /b\.npy: sample shape \[2, 28, 14\] differs from .*a\.npy \(\[1, 28, 28\]\)/);
    const mixedType = path.join(tmp, 'mixed-type');
    fs.mkdirSync(mixedType);
    writeNpy(path.join(mixedType, 'a.npy'), new Float32Array(784), [1, 1, 28, 28]);
    writeNpy(path.join(mixedType, 'b.npy'), new Float64Array(784), [1, 1, 28, 28]);
    await expectDataErrorAsync(npySource(mixedType, { modelInputs: [FMNIST_INPUT] }), 'inconsistent-files', /b\.npy: dtype float64 differs/);

    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    await expectDataErrorAsync(npySource(empty, { modelInputs: [FMNIST_INPUT] }), 'empty', new RegExp(`no calibration samples in ${empty}`));
    const zero = path.join(tmp, 'zero.npy');
    fs.writeFileSync(zero, encodeNpyHeader('<f4', [0, 1, 28, 28]));
    await expectDataErrorAsync(npySource(zero, { modelInputs: [FMNIST_INPUT] }), 'empty', /no calibration samples in .*zero\.npy/);
    await expectDataErrorAsync(npySource(path.join(tmp, 'missing.npy'), { inputName: 'x' }), 'not-found', /missing\.npy: no such file/);
    // Without inputName or the model's inputs, batches feed the model's single input as bare tensors.
    const bare = await npySource(CALIB_64, { batchSize: 64 });
    const feeds: unknown[] = [];
    await toForwardLoop(bare)(async (feed) => void feeds.push(feed));
    expect(feeds).toHaveLength(1);
    expect((feeds[0] as { dims: number[] }).dims).toEqual([64, 1, 28, 28]);
    await expectDataErrorAsync(npySource(CALIB_64, { modelInputs: [FMNIST_INPUT], inputName: 'pixels' }), 'unknown-input', /inputName 'pixels' is not an input of the model \(model inputs: 'input'\)/);
    await expectDataErrorAsync(
      npySource(CALIB_64, { modelInputs: [FMNIST_INPUT, { name: 'mask', dims: ['batch', 28], type: 'float32' }] }),
      'invalid-option',
      /the model has 2 inputs \('input', 'mask'\); set inputName/,
    );
    await expectDataErrorAsync(npySource(CALIB_64, { inputName: 'x', batchSize: 0 }), 'invalid-option', /batchSize must be a positive integer, got 0/);
    await expectDataErrorAsync(npySource(CALIB_64, { inputName: 'x', limit: 2.5 }), 'invalid-option', /limit must be a positive integer/);
  });
});
