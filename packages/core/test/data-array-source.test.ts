import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import calibrators from '@qdeploy/calibrators';
import {
  DataError, OrtTensor, Tensor, arraySource, calibrate, definePattern, input, insertQdq, loadModel, op, openNpy, toForwardLoop, transform, usePlugin,
} from '../src/index.js';
import { vendored } from './helpers/fixtures.js';

const CONV = definePattern({ name: 'Conv', root: op(['Conv', 'Gemm'], [input('input')]), qdqPoints: ['input'] });
const calib = openNpy(path.join(__dirname, 'fixtures/data/calib_64.npy'));

beforeAll(async () => {
  await usePlugin(calibrators);
});

describe('arraySource: calibration data already in memory', () => {
  it('cuts a typed array into batch views (no copy) and feeds them as onnxruntime tensors', async () => {
    const data = new Float32Array(10 * 3);
    for (let i = 0; i < data.length; i++) data[i] = i;
    const batches = [];
    for await (const b of arraySource(data, { shape: [10, 3], batchSize: 4 })) batches.push(b);
    expect(batches.map((b) => b.samples)).toEqual([4, 4, 2]);
    const t = Object.values(batches[2]!.inputs)[0]!;
    expect(t).toBeInstanceOf(OrtTensor);
    expect(t.dims).toEqual([2, 3]);
    expect((t.data as Float32Array).buffer).toBe(data.buffer);
    expect(Array.from(t.data as Float32Array)).toEqual([24, 25, 26, 27, 28, 29]);
  });

  it('keys several inputs by name and honours limit', async () => {
    const src = arraySource(
      { ids: { data: new BigInt64Array(6), shape: [3, 2] }, mask: { data: new Uint8Array(6), shape: [3, 2] } },
      { batchSize: 2, limit: 3 },
    );
    expect(src.totalBatches).toBe(2);
    const first = (await src[Symbol.asyncIterator]().next()).value!;
    expect(first.inputs.ids!.type).toBe('int64');
    expect(first.inputs.mask!.type).toBe('uint8');
  });

  it('refuses a shape that does not hold the array, naming both', () => {
    expect(() => arraySource(new Float32Array(5), { shape: [2, 3] })).toThrow(/shape \[2, ?3\] holds 6 elements but the array has 5/);
    expect(() => arraySource(new Float32Array(5), { shape: [2, 3] })).toThrow(DataError);
  });

  it('calibrates a model end to end with no onnxruntime import in the caller', async () => {
    const { model, matches } = transform(loadModel(vendored('fmnist_resnet.onnx')), { patterns: [CONV] });
    const q = insertQdq(model, matches);
    const images = calib.readRows(0, 32) as Float32Array;
    const r = await calibrate(q, toForwardLoop(arraySource(images, { shape: [32, 1, 28, 28], batchSize: 16 })), { calibrator: 'minmax' });
    expect(r.batches).toBe(2);
    expect(r.samples).toBe(32);
    expect(q.stubs().every((s) => s.calibrated && s.scale[0]! > 0 && s.scale[0] !== 1)).toBe(true);
  });

  it('OrtTensor is onnxruntime\'s tensor, not the IR Tensor (an initializer)', () => {
    expect(OrtTensor).not.toBe(Tensor);
    expect(new OrtTensor('float32', new Float32Array(2), [2]).dims).toEqual([2]);
  });
});
