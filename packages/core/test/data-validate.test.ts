import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError, isDataError } from '../src/calibrate/data/errors.js';
import { toForwardLoop } from '../src/calibrate/data/forward-loop.js';
import { writeNpy } from '../src/calibrate/data/npy.js';
import { npySource } from '../src/calibrate/data/npy-source.js';
import { countNonFinite, modelInputsOf, validateFeed, type ModelInputInfo } from '../src/calibrate/data/validate.js';
import { FMNIST_INPUT, expectDataErrorAsync, makeTmp } from './fixtures/data/helpers.js';

const where = { batchIndex: 3, source: 'calib.npy' };
const f32 = (dims: number[], fill = 0): ort.Tensor => new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(fill), dims);

function expectError(fn: () => unknown, kind: string, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(isDataError(caught), String(caught)).toBe(true);
  expect((caught as DataError).kind).toBe(kind);
  expect((caught as DataError).message).toMatch(message);
}

const TWO: ModelInputInfo[] = [
  { name: 'pixels', dims: ['N', 3, 32, 32], type: 'float32' },
  { name: 'mask', dims: [null, -1], type: 'uint8' },
];

describe('validateFeed', () => {
  it('accepts matching data; symbolic, null and -1 dims match anything', () => {
    const t = f32([5, 1, 28, 28]);
    expect(validateFeed(t, [FMNIST_INPUT], where)).toEqual({ input: t });
    const feed = { pixels: f32([2, 3, 32, 32]), mask: new ort.Tensor('uint8', new Uint8Array(14), [2, 7]) };
    expect(validateFeed(feed, TWO, where)).toBe(feed);
    // a model input without shape information ([]) is not shape-checked
    expect(() => validateFeed(f32([2, 2]), [{ name: 'x', dims: [], type: 'float32' }], where)).not.toThrow();
  });

  it('wrong fixed dimension names the input, expected and actual', () => {
    expectError(
      () => validateFeed(f32([4, 3, 28, 28]), [FMNIST_INPUT], where),
      'shape-mismatch',
      /^batch 3 of calib\.npy: input 'input' expects shape \[batch, 1, 28, 28\] but the data has shape \[4, 3, 28, 28\]$/,
    );
  });

  it('rank must match', () => {
    expectError(
      () => validateFeed(f32([1, 28, 28]), [FMNIST_INPUT], where),
      'shape-mismatch',
      /input 'input' expects shape \[batch, 1, 28, 28\] but the data has shape \[1, 28, 28\] \(rank 4 expected, got rank 3\)/,
    );
  });

  it('dtype mismatch', () => {
    const u8 = new ort.Tensor('uint8', new Uint8Array(784), [1, 1, 28, 28]);
    expectError(() => validateFeed(u8, [FMNIST_INPUT], where), 'dtype-mismatch', /input 'input' expects float32 but the data is uint8 \(declare a normalisation/);
    const i64 = new ort.Tensor('int64', new BigInt64Array(2), [1, 2]);
    expectError(() => validateFeed({ pixels: f32([1, 3, 32, 32]), mask: i64 }, TWO, where), 'dtype-mismatch', /input 'mask' expects uint8 but the data is int64$/);
  });

  it('missing and unknown input names', () => {
    expectError(() => validateFeed({ pixels: f32([1, 3, 32, 32]) }, TWO, where), 'missing-input', /batch 3 of calib\.npy: missing model input 'mask' \(batch has 'pixels'\)/);
    expectError(
      () => validateFeed({ input: f32([1, 1, 28, 28]), extra: f32([1]) }, [FMNIST_INPUT], where),
      'unknown-input',
      /input 'extra' is not an input of the model \(model inputs: 'input'\)/,
    );
    expectError(() => validateFeed(f32([1, 3, 32, 32]), TWO, where), 'missing-input', /got a single tensor but the model has 2 inputs \('pixels', 'mask'\)/);
  });

  it('NaN / Inf are counted per input', () => {
    const t = f32([2, 1, 28, 28], 0.5);
    const d = t.data as Float32Array;
    d[3] = NaN;
    d[10] = Infinity;
    d[11] = -Infinity;
    expectError(() => validateFeed(t, [FMNIST_INPUT], where), 'non-finite', /^batch 3 of calib\.npy: input 'input' has 3 non-finite values \(1 NaN, 2 Inf\)$/);
    const half = new ort.Tensor('float16', new Uint16Array([0x3c00, 0x7c00, 0x7e01, 0xfc00]), [4]);
    expect(countNonFinite(half)).toEqual({ nan: 1, inf: 2 });
  });

  it('modelInputsOf reads an onnxruntime session', () => {
    const session = {
      inputMetadata: [
        { name: 'input', isTensor: true as const, type: 'float32' as const, shape: ['batch', 1, 28, 28] },
        { name: 'seq', isTensor: false as const },
      ],
    };
    expect(modelInputsOf(session)).toEqual([FMNIST_INPUT]);
  });
});

describe('validation through toForwardLoop', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = makeTmp('validate');
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a NaN in batch 3 stops calibration naming batch, input, count and file', async () => {
    const data = new Float32Array(20 * 784).fill(0.1);
    data[13 * 784 + 5] = NaN; // sample 13 → batch 3 with batchSize 4
    data[14 * 784 + 7] = NaN;
    const file = path.join(tmp, 'nan.npy');
    writeNpy(file, data, [20, 1, 28, 28]);
    const source = await npySource(file, { modelInputs: [FMNIST_INPUT], batchSize: 4 });
    let ran = 0;
    await expectDataErrorAsync(
      toForwardLoop(source, { modelInputs: [FMNIST_INPUT] })(async () => void ran++),
      'non-finite',
      new RegExp(`^batch 3 of ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: input 'input' has 2 non-finite values \\(2 NaN\\)$`),
    );
    expect(ran).toBe(3);
  });

  it('a data set shaped for another model fails on batch 0 with the shapes', async () => {
    const file = path.join(tmp, 'rgb.npy');
    writeNpy(file, new Float32Array(2 * 3 * 28 * 28), [2, 3, 28, 28]);
    const source = await npySource(file, { inputName: 'input', batchSize: 2 });
    await expectDataErrorAsync(
      toForwardLoop(source, { modelInputs: [FMNIST_INPUT] })(async () => {}),
      'shape-mismatch',
      /batch 0 of .*rgb\.npy: input 'input' expects shape \[batch, 1, 28, 28\] but the data has shape \[2, 3, 28, 28\]/,
    );
  });
});

describe('withValidation', () => {
  it('checks every feed of a user ForwardLoop and maps a bare tensor to the input name', async () => {
    const { withValidation } = await import('../src/calibrate/data/forward-loop.js');
    const seen: string[][] = [];
    const loop = withValidation(
      async (run) => {
        await run(f32([2, 1, 28, 28]));
        await run(f32([2, 1, 28, 27]));
      },
      [FMNIST_INPUT],
      'my loop',
    );
    await expectDataErrorAsync(
      loop(async (feed) => void seen.push(Object.keys(feed))),
      'shape-mismatch',
      /^batch 1 of my loop: input 'input' expects shape \[batch, 1, 28, 28\] but the data has shape \[2, 1, 28, 27\]$/,
    );
    expect(seen).toEqual([['input']]);
    await expectDataErrorAsync(withValidation(async () => {}, [FMNIST_INPUT], 'my loop')(async () => {}), 'empty', /no calibration samples in my loop/);
  });
});
