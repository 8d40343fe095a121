// Learned weight scales (LSQ on weights): the gradient of w / s → Clip → round → × s, the MSE
// start, and a prepareQat run whose export carries the trained per-channel scales.
import * as ort from 'onnxruntime-node';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  calibrate, decodeCheckpoint, encodeCheckpoint, insertQdq, loadModel, openNpy, prepareQat, transform, usePlugin, type ForwardLoop, type QuantizedModel,
} from '../src/index.js';
import { addLearnedWeightFakeQuant } from '../src/qat/fake-quant.js';
import { mseWeightScales } from '../src/qat/weight-scale-init.js';
import { tensorQuantConfig } from '../src/quantize/config.js';
import calibrators from '@qdeploy/calibrators';
import { TENSORRT_PATTERNS } from '@qdeploy/backend-tensorrt';
import { gradCheck } from './helpers/gradcheck.js';
import { repoRoot, vendored } from './helpers/fixtures.js';

const roundEven = (v: number) => {
  const f = Math.floor(v);
  const d = v - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
};

/** The weight fake quant of `w` [3, 2, 2, 2] (axis 0, 4 bits: ±7) with its scale fed as the input `s` [3, 1, 1, 1]. */
function weightFakeQuant(analyticOnly: boolean, w: number[], s: number[]) {
  const config = tensorQuantConfig({ nBits: 4, perChannel: true, symmetric: true });
  return gradCheck({
    analyticOnly, precision: 'float32',
    inputs: { w: { shape: [3, 2, 2, 2], data: w }, s: { shape: [3, 1, 1, 1], data: s } },
    build: (g, v) => {
      const { out, scaleInput } = addLearnedWeightFakeQuant(g, v.w!, [3, 2, 2, 2], { config, axis: 0 });
      for (const u of [...scaleInput.uses]) u.node.setInput(u.index, v.s!); // the checked input instead of its own
      g.inputs = g.inputs.filter((x) => x !== scaleInput);
      return out;
    },
  });
}

describe('learned weight fake quant: gradients', () => {
  it('STE for w exactly where w / s lies in [−7, 7]; LSQ for each channel scale: Σ dy·(round(v) − v) inside, Σ dy·(±7) outside', async () => {
    const s = [0.25, 0.5, 0.125];
    // v = w / s spans inside, ties, and beyond ±7 in every channel.
    const w = Array.from({ length: 24 }, (_, i) => (((i * 37) % 23) - 11) * 0.7 * s[Math.floor(i / 8)]! + 0.01);
    const r = await weightFakeQuant(true, w, s);
    const dy = r.outputGradient;
    const dw = new Float64Array(24);
    const ds = [0, 0, 0];
    w.forEach((x, i) => {
      const c = Math.floor(i / 8);
      const v = Math.fround(Math.fround(x) / Math.fround(s[c]!));
      const inside = v >= -7 && v <= 7;
      dw[i] = inside ? dy[i]! : 0;
      ds[c]! += dy[i]! * (inside ? roundEven(v) - v : Math.sign(v) * 7);
    });
    expect(dw.some((d) => d === 0) && dw.some((d) => d !== 0)).toBe(true); // both regimes exercised
    expect(Array.from(r.analytic.w!, (d) => d + 0)).toEqual(Array.from(dw, (d) => Math.fround(d)));
    ds.forEach((d, c) => expect(r.analytic.s![c]).toBeCloseTo(d, 3));
  });

  it('where every w saturates, s · (±7) is smooth in s: the scale gradient matches central finite differences', async () => {
    const s = [0.25, 0.5, 0.125];
    const w = Array.from({ length: 24 }, (_, i) => (i % 2 ? 1 : -1) * (10 + (i % 5)) * s[Math.floor(i / 8)]!); // |w / s| ≥ 10
    const r = await weightFakeQuant(false, w, s);
    expect(r.maxRelError).toBeLessThan(1e-3);
    expect(Array.from(r.analytic.w!, (d) => d + 0).every((d) => d === 0)).toBe(true);
    expect(Math.max(...Array.from(r.analytic.s!, Math.abs))).toBeGreaterThan(1);
  });
});

describe('mseWeightScales', () => {
  it('clips a channel with an outlier below max |w| / qmax, with less squared error; a channel of zeros gets 1', () => {
    const inner = 64;
    const w = new Float32Array(2 * inner);
    for (let i = 0; i < inner; i++) w[i] = Math.sin(i * 1.7) * 0.5;
    w[5] = 4; // one outlier in channel 0; channel 1 is all zeros
    const [s0, s1] = mseWeightScales(w, 2, inner, 7);
    const error = (s: number) => w.subarray(0, inner).reduce((e, x) => e + (x - Math.min(7, Math.max(-7, roundEven(x / s))) * s) ** 2, 0);
    expect(s0!).toBeLessThan(4 / 7);
    expect(error(s0!)).toBeLessThan(error(4 / 7));
    expect(s1).toBe(1);
  });
});

describe('prepareQat with learnWeightScales', () => {
  const B = 16;
  const xs = openNpy(path.join(repoRoot(), 'examples/fashion-mnist/data/test_500_x.npy'));
  const ys = openNpy(path.join(repoRoot(), 'examples/fashion-mnist/data/test_500_y.npy'));
  const batch = (i: number) => ({ x: new ort.Tensor('float32', xs.readRows(i * B, B) as Float32Array, [B, 1, 28, 28]), y: ys.readRows(i * B, B) as BigInt64Array });
  const loop: ForwardLoop = async (run) => run(new ort.Tensor('float32', xs.readRows(0, 32) as Float32Array, [32, 1, 28, 28]));

  beforeAll(async () => {
    await usePlugin(calibrators);
  });

  async function quantized(): Promise<QuantizedModel> {
    const { model, matches } = transform(loadModel(vendored('fmnist_mobilenet.onnx')), { patterns: TENSORRT_PATTERNS });
    const q = insertQdq(model, matches, { config: { activation: { nBits: 4 }, weight: { nBits: 4, perChannel: true } } });
    await calibrate(q, loop, { calibrator: 'minmax', progress: false });
    return q;
  }

  it('scales start at max |w| / qmax (or the MSE clip), train, survive a checkpoint, and the export quantizes with them', async () => {
    const q = await quantized();
    const start = new Map(q.weightQuantizers().map((wq) => [wq.tensor.name, wq.scale.slice()]));
    const options = { batchSize: B, learnWeightScales: true, optimizer: { type: 'adamw' as const, lr: 1e-3 }, sessionOptions: { intraOpNumThreads: 1 } };
    const qat = await prepareQat(q, options);
    expect(qat.weightScales.size).toBe(q.weightQuantizers().length);
    for (const [name, p] of qat.weightScales) expect(p.value).toEqual(start.get(name));
    for (let i = 0; i < 3; i++) await qat.step(batch(i).x, batch(i).y);
    const moved = [...qat.weightScales].filter(([name, p]) => p.value.some((v, c) => v !== start.get(name)![c]));
    expect(moved.length).toBe(qat.weightScales.size);

    // A checkpoint carries them; a run without learned weight scales refuses it.
    const saved = decodeCheckpoint(encodeCheckpoint(qat.toCheckpoint(1)), 'test');
    const again = await prepareQat(await quantized(), options);
    again.restore(saved);
    for (const [name, p] of qat.weightScales) expect(again.weightScales.get(name)!.value).toEqual(p.value);
    await again.release();
    const plain = await prepareQat(await quantized(), { ...options, learnWeightScales: false });
    expect(() => plain.restore(saved)).toThrow(/another model or training setup/);
    await plain.release();

    // The export: the learned per-channel scales, and integers clamp(round(w / s), ±7).
    const [name, learned] = moved.find(([, p]) => p.value.length > 1)!;
    const exported = qat.model.toExportModel({ quiet: true });
    const dq = exported.graph.nodes.find((n) => n.opType === 'DequantizeLinear' && n.input(0)!.name === `${name}_quantized`)!;
    expect(Array.from(dq.input(1)!.initializer!.toFloat32())).toEqual(Array.from(learned.value));
    const ints = dq.input(0)!.initializer!.data() as Int8Array;
    const w = qat.params.get(name)!.value;
    const inner = w.length / learned.value.length;
    const want = Array.from(w, (x, i) => Math.min(7, Math.max(-7, roundEven(Math.fround(x / learned.value[Math.floor(i / inner)]!)))));
    expect(Array.from(ints)).toEqual(want);
    expect(want.filter((v) => Math.abs(v) === 7).length).toBeGreaterThan(0);

    await qat.release();

    const mse = await prepareQat(await quantized(), { ...options, weightScaleInit: 'mse' });
    const clipped = [...mse.weightScales].filter(([n, p]) => p.value.some((v, c) => v < start.get(n)![c]!));
    expect(clipped.length).toBeGreaterThan(0);
    for (const [n, p] of mse.weightScales) p.value.forEach((v, c) => expect(v).toBeLessThanOrEqual(start.get(n)![c]!));
    await mse.release();
  }, 120_000);

  it('mseWeightClip: the scales are the MSE clip of the current weights before each step and in the export', async () => {
    const q = await quantized();
    const qat = await prepareQat(q, { batchSize: B, mseWeightClip: true, optimizer: { type: 'adamw', lr: 1e-3 }, sessionOptions: { intraOpNumThreads: 1 } });
    const clipOf = (name: string) => {
      const wq = q.weightQuantizers().find((w) => w.tensor.name === name)!;
      const w = qat.params.get(name)!.value;
      return mseWeightScales(w, wq.scale.length, w.length / wq.scale.length, 7);
    };
    const name = [...qat.weightScales.keys()].find((n) => qat.weightScales.get(n)!.value.length > 1)!;
    const first = qat.weightScales.get(name)!.value.slice();
    expect(first).toEqual(clipOf(name));
    for (let i = 0; i < 2; i++) await qat.step(batch(i).x, batch(i).y);
    const exported = qat.model.toExportModel({ quiet: true });
    const dq = exported.graph.nodes.find((n) => n.opType === 'DequantizeLinear' && n.input(0)!.name === `${name}_quantized`)!;
    const now = clipOf(name);
    expect(Array.from(dq.input(1)!.initializer!.toFloat32())).toEqual(Array.from(now));
    expect(now).not.toEqual(first); // the weights moved, and the clip with them
    await qat.release();
    await expect(prepareQat(await quantized(), { mseWeightClip: true, learnWeightScales: true })).rejects.toThrow(/choose one/);
  }, 60_000);
});
