// emaDecay: an exponential moving average of the trained weights and scales (Polyak
// averaging) is what predict() and the export use; the steps train the raw values, on
// data-parallel workers too, and a checkpoint resumes the average.
import * as ort from 'onnxruntime-node';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { calibrate, decodeCheckpoint, encodeCheckpoint, insertQdq, loadModel, modelToBytes, openNpy, prepareQat, transform, usePlugin, type QuantizedModel } from '../src/index.js';
import { WeightAverage } from '../src/qat/weight-average.js';
import calibrators from '@qdeploy/calibrators';
import { TENSORRT_PATTERNS } from '@qdeploy/backend-tensorrt';
import { repoRoot, vendored } from './helpers/fixtures.js';

const B = 8;
const xs = openNpy(path.join(repoRoot(), 'examples/fashion-mnist/data/test_500_x.npy'));
const ys = openNpy(path.join(repoRoot(), 'examples/fashion-mnist/data/test_500_y.npy'));
const batch = (i: number) => ({
  x: new ort.Tensor('float32', xs.readRows(i * B, B) as Float32Array, [B, 1, 28, 28]),
  y: ys.readRows(i * B, B) as BigInt64Array,
});

beforeAll(async () => {
  await usePlugin(calibrators);
});

async function quantized(file: string): Promise<QuantizedModel> {
  const { model, matches } = transform(loadModel(vendored(file)), { patterns: TENSORRT_PATTERNS });
  const q = insertQdq(model, matches, { config: { activation: { nBits: 4 }, weight: { nBits: 4, perChannel: true } } });
  await calibrate(q, async (run) => run(batch(10).x), { calibrator: 'minmax', progress: false });
  return q;
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)));

describe('WeightAverage', () => {
  it('weighs update i of n by decayⁿ⁻ⁱ, normalized (bias-corrected), starting from the first value', () => {
    const avg = new WeightAverage(0.5);
    const w = new Float32Array([0, 10]);
    avg.update([{ name: 'w', value: w }]); // first sight: the value itself
    expect(Array.from(avg.get('w')!)).toEqual([0, 10]);
    w.set([11, 21]);
    avg.update([{ name: 'w', value: w }]);
    expect(avg.get('w')![0]).toBeCloseTo((0.5 * 0 + 11) / 1.5, 5);
    expect(avg.get('w')![1]).toBeCloseTo((0.5 * 10 + 21) / 1.5, 5);
    w.set([-4, 1]);
    avg.update([{ name: 'w', value: w }]);
    expect(avg.get('w')![0]).toBeCloseTo((0.25 * 0 + 0.5 * 11 - 4) / 1.75, 5);
    for (let n = 3; n < 20; n++) avg.update([{ name: 'w', value: w }]);
    expect(avg.updates).toBe(20);
    expect(avg.get('w')![0]).toBeCloseTo(-4, 4); // the old values' weight has halved 17 times
    expect(() => new WeightAverage(1)).toThrow(/emaDecay must be in \(0, 1\), got 1/);
    expect(() => new WeightAverage(-0.1)).toThrow(/emaDecay/);
  });
});

describe('prepareQat emaDecay', () => {
  it('off by default; predict() and the export use the average of the raw weights and scales, steps train the raw ones (two workers)', async () => {
    const plain = await prepareQat(await quantized('fmnist_mobilenet.onnx'), { batchSize: B, workers: 2 });
    expect(plain.average).toBeNull();
    await plain.release();

    const q = await quantized('fmnist_mobilenet.onnx');
    const decay = 0.5;
    const qat = await prepareQat(q, { batchSize: B, emaDecay: decay, workers: 2, optimizer: { type: 'adamw', lr: 1e-3 } });
    expect(qat.workers).toBe(2);
    // The test's own average of what the steps leave in qat.params / qat.scales: Σ dⁿ⁻ⁱ·wᵢ / Σ dⁿ⁻ⁱ.
    const sums = new Map<string, Float64Array>();
    let norm = 0;
    for (let i = 0; i < 4; i++) {
      await qat.step(batch(i).x, batch(i).y);
      norm = decay * norm + 1;
      for (const p of [...qat.params.values(), ...qat.scales.values()]) {
        const a = sums.get(p.name) ?? sums.set(p.name, new Float64Array(p.value.length)).get(p.name)!;
        a.forEach((v, k) => (a[k] = decay * v + p.value[k]!));
      }
    }
    expect(qat.average!.updates).toBe(4);
    for (const [name, a] of sums) expect(maxAbsDiff(qat.average!.get(name)!, a.map((v) => v / norm)), name).toBeLessThan(1e-6);
    // The average is not the raw weights (else the test would prove nothing).
    const w = [...qat.params.values()][3]!;
    expect(maxAbsDiff(qat.average!.get(w.name)!, w.value)).toBeGreaterThan(1e-5);

    // The export carries the averaged weights and scales, and predict() runs the same model.
    const model = qat.model;
    expect(Array.from(model.model.graph.value(w.name)!.initializer!.toFloat32())).toEqual(Array.from(qat.average!.get(w.name)!));
    const [tensor, scale] = [...qat.scales][0]!;
    expect(model.stubs().find((s) => s.tensor.name === tensor)!.scale[0]).toBe(qat.average!.get(scale.name)![0]);
    expect(model.stubs().find((s) => s.tensor.name === tensor)!.scale[0]).not.toBe(scale.value[0]);
    const session = await ort.InferenceSession.create(modelToBytes(model.toExportModel({ quiet: true })), { graphOptimizationLevel: 'disabled' });
    const { x } = batch(5);
    const exported = (await session.run({ input: x })).logits!.data as Float32Array;
    const predicted = await qat.predict(x);
    // Fed the raw weights instead, predict() is ~20 % of the largest logit away; the 5 % leaves room for a
    // value whose rounding a 1-ulp difference in a scale flips (the QDQ export computes scales in TypeScript).
    expect(maxAbsDiff(exported, predicted)).toBeLessThan(0.05 * Math.max(...Array.from(predicted, Math.abs)));

    // A checkpoint carries the average; restoring it into a fresh run brings it back.
    const bytes = encodeCheckpoint(qat.toCheckpoint(1));
    const again = await prepareQat(await quantized('fmnist_mobilenet.onnx'), { batchSize: B, emaDecay: decay, workers: 1 });
    again.restore(decodeCheckpoint(bytes, 'test'));
    expect(again.average!.updates).toBe(4);
    expect(Array.from(again.average!.get(w.name)!)).toEqual(Array.from(qat.average!.get(w.name)!));
    expect(Array.from(again.params.get(w.name)!.value)).toEqual(Array.from(w.value));
    await again.release();
    await qat.release();
  }, 120_000);
});
