// The forward half of the QAT step: fake quant in the training graph gives the exported
// QDQ model's logits, and the losses are what their formulas say.
import * as ort from 'onnxruntime-node';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DataType, calibrate, insertQdq, loadModel, modelToBytes, openNpy, transform, usePlugin, type ForwardLoop } from '../src/index.js';
import { buildTrainingGraph } from '../src/qat/training-graph.js';
import { resolveLoss } from '../src/qat/loss.js';
import { integerRange } from '../src/quantize/config.js';
import calibrators from '@qdeploy/calibrators';
import { TENSORRT_PATTERNS } from '@qdeploy/backend-tensorrt';
import { repoRoot, vendored } from './helpers/fixtures.js';

const B = 8;
const xs = openNpy(path.join(repoRoot(), 'examples/fashion-mnist/data/test_500_x.npy'));
const ys = openNpy(path.join(repoRoot(), 'examples/fashion-mnist/data/test_500_y.npy'));
const x = new ort.Tensor('float32', xs.readRows(0, B) as Float32Array, [B, 1, 28, 28]);
const labels = Array.from(ys.readRows(0, B) as BigInt64Array, Number);
const loop: ForwardLoop = async (run) => {
  for (let i = 0; i < 64; i += 32) await run(new ort.Tensor('float32', xs.readRows(i, 32) as Float32Array, [32, 1, 28, 28]));
};

beforeAll(async () => {
  await usePlugin(calibrators);
});

async function quantized(file: string, nBits = 8) {
  const { model, matches } = transform(loadModel(vendored(file)), { patterns: TENSORRT_PATTERNS });
  const q = insertQdq(model, matches, { config: { activation: { nBits }, weight: { nBits, perChannel: true } } });
  await calibrate(q, loop, { calibrator: 'minmax', progress: false });
  return q;
}

function feedsOf(tg: ReturnType<typeof buildTrainingGraph>, q: Awaited<ReturnType<typeof quantized>>, extra: Record<string, ort.Tensor>) {
  const feeds: Record<string, ort.Tensor> = { input: x, ...extra };
  for (const p of tg.params) feeds[p.name] = new ort.Tensor('float32', q.model.graph.value(p.name)!.initializer!.toFloat32(), p.dims);
  return feeds;
}

function logSoftmax(row: Float32Array): number[] {
  const m = Math.max(...row);
  const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
  return Array.from(row, (v) => v - lse);
}

describe('QAT training graph (forward)', () => {
  it('fake quant gives the exported QDQ model\'s logits, and the loss is the cross-entropy of them', async () => {
    const q = await quantized('fmnist_resnet.onnx');
    const tg = buildTrainingGraph(q, { batchSize: B, loss: resolveLoss({ type: 'cross-entropy', labelSmoothing: 0 }), learnScales: false, bnTraining: false });
    expect(tg.params.length).toBe(32); // 16 weights + 16 biases
    expect(tg.stopGradient.size).toBe(2 * q.weightQuantizers().length); // |w| and the scale of each
    // Unoptimised on both sides: onnxruntime's layouts sum in another order, and a value one ulp
    // from a rounding edge lands in the neighbouring bin.
    const s = await ort.InferenceSession.create(modelToBytes(tg.model), { graphOptimizationLevel: 'disabled' });
    const out = await s.run(feedsOf(tg, q, { [tg.labels!]: new ort.Tensor('int64', BigInt64Array.from(labels.map(BigInt)), [B]) }));
    const ref = await ort.InferenceSession.create(modelToBytes(q.toExportModel({ weights: 'qdq' })), { graphOptimizationLevel: 'disabled' });
    const refLogits = (await ref.run({ input: x })).logits!.data as Float32Array;
    const logits = out[tg.logits]!.data as Float32Array;
    let maxDiff = 0;
    for (let i = 0; i < logits.length; i++) maxDiff = Math.max(maxDiff, Math.abs(logits[i]! - refLogits[i]!));
    expect(maxDiff).toBeLessThan(1e-3);
    // Without fake quant the logits differ: the check above is not vacuous.
    const fp = await ort.InferenceSession.create(modelToBytes(q.model));
    const fpLogits = (await fp.run({ input: x })).logits!.data as Float32Array;
    expect(Math.max(...Array.from(fpLogits, (v, i) => Math.abs(v - logits[i]!)))).toBeGreaterThan(1e-3);
    let ce = 0;
    for (let b = 0; b < B; b++) ce -= logSoftmax(logits.subarray(b * 10, b * 10 + 10))[labels[b]!]! / B;
    expect((out[tg.loss]!.data as Float32Array)[0]).toBeCloseTo(ce, 4);
  });

  it('an attention head\'s fake quant goes above its Transpose (every reader quantized), and the logits stay the exported model\'s', async () => {
    const q = await quantized('fmnist_vit_small.onnx');
    const heads = q.stubs().filter((t) => t.tensor.producer?.opType === 'Transpose');
    expect(heads.length).toBe(9); // q, k, v in each of 3 blocks
    const tg = buildTrainingGraph(q, { batchSize: B, loss: resolveLoss({ type: 'cross-entropy', labelSmoothing: 0 }), learnScales: false, bnTraining: false });
    const g = tg.model.graph;
    for (const t of heads) {
      const transpose = t.tensor.producer!;
      const clip = g.nodes.find((n) => n.opType === 'Clip' && n.name.startsWith(`${t.tensor.name}_`))!;
      expect(clip.inputs[0]!.name).toBe(transpose.inputs[0]!.name); // reads the Transpose's input
      const dq = clip.output().consumers[0]!.output().consumers[0]!;
      expect(dq.opType).toBe('DequantizeLinear');
      const moved = dq.output().consumers;
      expect(moved.map((n) => n.opType)).toEqual(['Transpose']);
      expect(moved[0]!.attr('perm')).toEqual(transpose.attr('perm'));
      expect(g.value(t.tensor.name)).toBeUndefined(); // the original Transpose is gone
    }
    const vx = new ort.Tensor('float32', xs.readRows(0, B) as Float32Array, [B, 1, 28, 28]);
    const feeds: Record<string, ort.Tensor> = { [tg.dataInputs[0]!.name]: vx, [tg.labels!]: new ort.Tensor('int64', BigInt64Array.from(labels.map(BigInt)), [B]) };
    for (const p of tg.params) feeds[p.name] = new ort.Tensor('float32', q.model.graph.value(p.name)!.initializer!.toFloat32(), p.dims);
    const logits = (await (await ort.InferenceSession.create(modelToBytes(tg.model), { graphOptimizationLevel: 'disabled' })).run(feeds))[tg.logits]!.data as Float32Array;
    const ref = await ort.InferenceSession.create(modelToBytes(q.toExportModel({ weights: 'qdq' })), { graphOptimizationLevel: 'disabled' });
    const refLogits = (await ref.run({ [ref.inputNames[0]!]: vx }))[ref.outputNames[0]!]!.data as Float32Array;
    expect(Math.max(...Array.from(logits, (v, i) => Math.abs(v - refLogits[i]!)))).toBeLessThan(1e-3);
  });

  it('distillation is T²·KL(teacher ‖ student) at temperature T; label smoothing mixes in ε/C', async () => {
    const q = await quantized('fmnist_resnet.onnx');
    const T = 2;
    const tg = buildTrainingGraph(q, { batchSize: B, loss: resolveLoss({ type: 'distillation', temperature: T }), learnScales: false, bnTraining: false });
    expect(tg.labels).toBeNull();
    const teacher = Float32Array.from({ length: B * 10 }, (_, i) => Math.sin(i) * 3);
    const s = await ort.InferenceSession.create(modelToBytes(tg.model));
    const out = await s.run(feedsOf(tg, q, { [tg.teachers[0]!.input]: new ort.Tensor('float32', teacher, [B, 10]) }));
    const logits = out[tg.logits]!.data as Float32Array;
    let kl = 0;
    for (let b = 0; b < B; b++) {
      const lt = logSoftmax(teacher.subarray(b * 10, b * 10 + 10).map((v) => v / T));
      const ls = logSoftmax(logits.subarray(b * 10, b * 10 + 10).map((v) => v / T));
      for (let c = 0; c < 10; c++) kl += (Math.exp(lt[c]!) * (lt[c]! - ls[c]!) * T * T) / B;
    }
    expect((out[tg.loss]!.data as Float32Array)[0]).toBeCloseTo(kl, 4);

    const eps = 0.1;
    const tgs = buildTrainingGraph(q, { batchSize: B, loss: resolveLoss({ type: 'cross-entropy', labelSmoothing: eps }), learnScales: false, bnTraining: false });
    const ss = await ort.InferenceSession.create(modelToBytes(tgs.model));
    const outs = await ss.run(feedsOf(tgs, q, { [tgs.labels!]: new ort.Tensor('int64', BigInt64Array.from(labels.map(BigInt)), [B]) }));
    const l2 = outs[tgs.logits]!.data as Float32Array;
    let smooth = 0;
    for (let b = 0; b < B; b++) {
      const lp = logSoftmax(l2.subarray(b * 10, b * 10 + 10));
      for (let c = 0; c < 10; c++) smooth -= (((c === labels[b] ? 1 - eps : 0) + eps / 10) * lp[c]!) / B;
    }
    expect((outs[tgs.loss]!.data as Float32Array)[0]).toBeCloseTo(smooth, 4);
  });

  it('4-bit activations are clipped to their grid (±7 steps, or 0…15 for a ReLU output), and learned scales (LSQ) are graph inputs giving the same logits', async () => {
    const q = await quantized('fmnist_resnet.onnx', 4);
    const fixed = buildTrainingGraph(q, { batchSize: B, loss: resolveLoss('cross-entropy'), learnScales: false, bnTraining: false });
    const learned = buildTrainingGraph(q, { batchSize: B, loss: resolveLoss('cross-entropy'), learnScales: true, bnTraining: false });
    expect(learned.scales.length).toBe(q.stubs().length);
    const signed = q.stubs().find((t) => !t.config.unsigned)!; // the model input can be negative
    const unsigned = q.stubs().find((t) => t.config.unsigned && t.tensor.producer?.opType === 'Relu')!;
    expect(integerRange(signed.config)).toEqual({ qmin: -7, qmax: 7 });
    expect(integerRange(unsigned.config)).toEqual({ qmin: 0, qmax: 15 });
    const dqOf = (name: string) => fixed.model.graph.nodes.find((n) => n.opType === 'DequantizeLinear' && n.inputs[0]!.producer!.inputs[0]!.producer?.opType === 'Clip' && n.inputs[0]!.producer!.inputs[0]!.producer!.inputs[0]!.name === name)!;
    const dqs = [signed, unsigned].map((t) => dqOf(t.tensor.name));
    for (const dq of dqs) fixed.model.graph.outputs.push(dq.output());
    const lab = { [fixed.labels!]: new ort.Tensor('int64', BigInt64Array.from(labels.map(BigInt)), [B]) };
    const a = await (await ort.InferenceSession.create(modelToBytes(fixed.model))).run(feedsOf(fixed, q, lab));
    const levels = (t: typeof signed, i: number) => Array.from(a[dqs[i]!.output().name]!.data as Float32Array, (v) => Math.round(v / t.scale[0]!));
    const span = (xs: number[]) => xs.reduce(([lo, hi], x) => [Math.min(lo, x), Math.max(hi, x)], [Infinity, -Infinity]);
    const [[sLo, sHi], [uLo, uHi]] = [span(levels(signed, 0)), span(levels(unsigned, 1))];
    expect(sHi).toBeLessThanOrEqual(7);
    expect(sLo).toBeGreaterThanOrEqual(-7);
    expect(uLo).toBe(0);
    expect(uHi).toBeGreaterThan(7); // the levels a signed grid would not have
    expect(uHi).toBeLessThanOrEqual(15);
    const scaleFeeds = Object.fromEntries(learned.scales.map((s) => [s.name, new ort.Tensor('float32', new Float32Array([q.stubs().find((t) => t.tensor.name === s.tensor)!.scale[0]!]), [])]));
    const b = await (await ort.InferenceSession.create(modelToBytes(learned.model))).run(feedsOf(learned, q, { ...lab, ...scaleFeeds }));
    const la = a[fixed.logits]!.data as Float32Array, lb = b[learned.logits]!.data as Float32Array;
    expect(Math.max(...Array.from(la, (v, i) => Math.abs(v - lb[i]!)))).toBeLessThan(1e-2);
  });

  it('output distillation (any outputs, e.g. a detector\'s heads): the mean over outputs of Σ(s − t)² / Σt², one teacher input each', async () => {
    const q = await quantized('fmnist_resnet.onnx');
    // A second output: the pooled features [B, 128] beside the logits.
    const pooled = q.model.graph.nodes.find((n) => n.opType === 'Flatten')!.output();
    pooled.type = { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimValue: B }, { dimValue: 128 }] } } };
    q.model.graph.outputs.push(pooled);
    const tg = buildTrainingGraph(q, { batchSize: B, loss: resolveLoss('output-distillation'), learnScales: false, bnTraining: false });
    expect(tg.labels).toBeNull();
    expect(tg.teachers.map((t) => [t.output, t.dims])).toEqual([['logits', [B, 10]], [pooled.name, [B, 128]]]);
    const teacher = tg.teachers.map((t, k) => Float32Array.from({ length: t.dims[0]! * t.dims[1]! }, (_, i) => Math.sin(i + k) * 2));
    const m = tg.model.clone();
    m.graph.outputs.push(m.graph.value(pooled.name)!);
    const s = await ort.InferenceSession.create(modelToBytes(m));
    const out = await s.run(feedsOf(tg, q, Object.fromEntries(tg.teachers.map((t, k) => [t.input, new ort.Tensor('float32', teacher[k]!, t.dims)]))));
    const rel = (student: Float32Array, t: Float32Array) => student.reduce((a, v, i) => a + (v - t[i]!) ** 2, 0) / t.reduce((a, v) => a + v * v, 0);
    const want = (rel(out.logits!.data as Float32Array, teacher[0]!) + rel(out[pooled.name]!.data as Float32Array, teacher[1]!)) / 2;
    expect((out[tg.loss]!.data as Float32Array)[0]).toBeCloseTo(want, 4);
    // The classification losses still want [batch, classes] logits, and say what to use instead.
    q.model.graph.outputs.splice(0, 1);
    expect(() => buildTrainingGraph(q, { batchSize: B, loss: resolveLoss('distillation'), learnScales: false, bnTraining: false })).not.toThrow(); // [B, 128] is 2-D
    pooled.type = { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimValue: B }, { dimValue: 128 }, { dimValue: 1 }] } } };
    expect(() => buildTrainingGraph(q, { batchSize: B, loss: resolveLoss('cross-entropy'), learnScales: false, bnTraining: false })).toThrow(/the cross-entropy loss needs logits of shape \[batch, classes\] \(for other outputs, such as a detector's heads, use the output-distillation loss\)/);
  });
});
