import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError, argmaxRows, evaluateModel, formatEvalReport, openNpy, sqnrDb, writeNpy } from '../src/index.js';
import { tmpDir, vendored } from './helpers/fixtures.js';

// Real images (64 Fashion-MNIST training samples) through the vendored FP32 ResNet; the
// expected numbers are computed here with onnxruntime directly, not with evaluateModel.
const MODEL = vendored('fmnist_resnet.onnx');
const DATA = path.join(__dirname, 'fixtures/data/calib_64.npy');
const N = 64;
const dir = tmpDir('qdeploy-eval-');
let images: Float32Array;
let logits: Float32Array;
let preds: number[];

async function runDirect(model: string, x: Float32Array, n: number): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(model);
  const out = await s.run({ input: new ort.Tensor('float32', x, [n, 1, 28, 28]) });
  await s.release();
  return out.logits!.data as Float32Array;
}

function labelsFile(name: string, labels: number[], type: 'int64' | 'int32' = 'int64', shape: number[] = [labels.length]): string {
  const f = path.join(dir, name);
  writeNpy(f, type === 'int64' ? BigInt64Array.from(labels, BigInt) : Int32Array.from(labels), shape);
  return f;
}

beforeAll(async () => {
  const f = openNpy(DATA);
  images = f.readRows(0, N) as Float32Array;
  f.close();
  logits = await runDirect(MODEL, images, N);
  preds = Array.from({ length: N }, (_, i) => {
    const row = logits.subarray(i * 10, i * 10 + 10);
    return row.indexOf(Math.max(...row));
  });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('evaluateModel', () => {
  it('top-1 equals an argmax computed independently, for batches that do not divide the data', async () => {
    const labels = Array.from({ length: N }, (_, i) => (i % 3 === 0 ? (preds[i]! + 1) % 10 : preds[i]!));
    const expected = labels.filter((y, i) => y === preds[i]).length;
    const r = await evaluateModel(MODEL, { data: DATA, labels: labelsFile('y.npy', labels), batchSize: 10, progress: false });
    expect(r.samples).toBe(N);
    expect(r.correct).toBe(expected);
    expect(r.top1).toBe(expected / N);
    expect(r.ref).toBeUndefined();
  });

  it('a model against itself: agreement 1, SQNR Infinity, same top-1', async () => {
    const labels = Array.from({ length: N }, (_, i) => i % 10);
    const r = await evaluateModel(MODEL, { data: DATA, labels: labelsFile('mod10.npy', labels), ref: MODEL, batchSize: 16 });
    const expected = labels.filter((y, i) => y === preds[i]).length / N;
    expect(r.top1).toBe(expected);
    expect(r.ref).toEqual({ model: MODEL, top1: expected, agreement: 1, sqnrDb: Infinity });
    expect(formatEvalReport(r)).toMatch(/agreement\s+100\.00 %/);
    expect(formatEvalReport(r)).toMatch(/SQNR\s+∞ dB/);
  });

  it('SQNR and agreement against another model match a direct computation', async () => {
    // The "other" model: the same ResNet with its logits scaled by 2 and shifted on class 0 (a Mul and an Add appended).
    const { loadModel, saveModel, Tensor } = await import('../src/index.js');
    const m = loadModel(MODEL);
    const g = m.graph;
    const out = g.outputs[0]!;
    const gemm = out.producer!;
    const mid = g.addValue('logits_raw');
    gemm.setOutputs([mid]);
    const two = g.addInitializer('two', Tensor.fromArray(new Float32Array([2]), []));
    const shift = g.addInitializer('shift', Tensor.fromArray(new Float32Array([3, 0, 0, 0, 0, 0, 0, 0, 0, 0]), [10]));
    const mul = g.addNode({ opType: 'Mul', inputs: [mid, two] });
    g.addNode({ opType: 'Add', inputs: [mul.output(), shift], outputs: [out] });
    g.toposort();
    const other = path.join(dir, 'other.onnx');
    await saveModel(m, other);
    const got = await runDirect(other, images, N);
    let signal = 0, noise = 0, agree = 0;
    for (let i = 0; i < logits.length; i++) {
      signal += logits[i]! ** 2;
      noise += (logits[i]! - got[i]!) ** 2;
    }
    const otherPred = argmaxRows(got, N, 10);
    for (let i = 0; i < N; i++) if (otherPred[i] === preds[i]) agree++;
    const r = await evaluateModel(other, { data: DATA, labels: labelsFile('p.npy', preds), ref: MODEL, batchSize: 7 });
    expect(r.ref!.top1).toBe(1); // labels are the reference's own predictions
    expect(r.ref!.agreement).toBe(agree / N);
    expect(r.top1).toBe(agree / N);
    expect(r.ref!.sqnrDb).toBeCloseTo(10 * Math.log10(signal / noise), 3);
    expect(r.ref!.sqnrDb).toBeLessThan(10);
  });

  it('limit, int32 labels and (N, 1) labels', async () => {
    const r1 = await evaluateModel(MODEL, { data: DATA, labels: labelsFile('i32.npy', preds, 'int32'), limit: 20, batchSize: 8 });
    expect(r1).toMatchObject({ samples: 20, correct: 20, top1: 1 });
    const r2 = await evaluateModel(MODEL, { data: DATA, labels: labelsFile('col.npy', preds, 'int64', [N, 1]), limit: 5 });
    expect(r2).toMatchObject({ samples: 5, top1: 1 });
  });

  it('reports bad inputs as DataError', async () => {
    const short = labelsFile('short.npy', preds.slice(0, 10));
    await expect(evaluateModel(MODEL, { data: DATA, labels: short })).rejects.toThrow(/holds 10 labels but .* has 64 samples/);
    const floats = path.join(dir, 'float.npy');
    writeNpy(floats, new Float32Array(N), [N]);
    await expect(evaluateModel(MODEL, { data: DATA, labels: floats })).rejects.toBeInstanceOf(DataError);
    const matrix = path.join(dir, 'matrix.npy');
    writeNpy(matrix, new Int32Array(N * 2), [N, 2]);
    await expect(evaluateModel(MODEL, { data: DATA, labels: matrix })).rejects.toThrow(/shape \(N,\) or \(N, 1\)/);
    const wrongShape = path.join(dir, 'x3.npy');
    writeNpy(wrongShape, new Float32Array(4 * 3 * 28 * 28), [4, 3, 28, 28]);
    await expect(evaluateModel(MODEL, { data: wrongShape, labels: labelsFile('y4.npy', [0, 1, 2, 3]) })).rejects.toThrow(/expects shape \[batch, 1, 28, 28\]/);
    await expect(evaluateModel(MODEL, { data: path.join(dir, 'missing.npy'), labels: short })).rejects.toBeInstanceOf(DataError);
  });
});

describe('evaluation statistics', () => {
  it('argmaxRows takes the first maximum and ignores NaN', () => {
    expect([...argmaxRows([1, 3, 3, NaN, 0, -1], 2, 3)]).toEqual([1, 1]);
  });
  it('sqnrDb', () => {
    expect(sqnrDb(100, 1)).toBe(20);
    expect(sqnrDb(5, 0)).toBe(Infinity);
  });
});
