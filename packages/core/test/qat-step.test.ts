// prepareQat on the vendored Fashion-MNIST models: steps lower the loss, the switches
// rebuild the graph, the export round-trips with the trained weights.
import * as ort from 'onnxruntime-node';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import {
  type Node,
  Graph, Model, MissingGradientError, Tensor, calibrate, definePattern, disableFakeQuant, enableFakeQuant, freezeBnStats, input, insertQdq, loadModel,
  modelToBytes, npyDataset, op, openNpy, prepareQat, saveModel, trainQat, transform, usePlugin, type ForwardLoop, type QuantizedModel,
} from '../src/index.js';
import calibrators from '@qdeploy/calibrators';
import { TENSORRT_PATTERNS } from '@qdeploy/backend-tensorrt';
import { repoRoot, tmpDir, vendored } from './helpers/fixtures.js';

const B = 16;
const ONE_THREAD = { intraOpNumThreads: 1 }; // deterministic sums, and kind to a shared CI machine
const dataX = path.join(repoRoot(), 'examples/fashion-mnist/data/test_500_x.npy');
const dataY = path.join(repoRoot(), 'examples/fashion-mnist/data/test_500_y.npy');
const xs = openNpy(path.join(repoRoot(), 'examples/fashion-mnist/data/test_500_x.npy'));
const ys = openNpy(path.join(repoRoot(), 'examples/fashion-mnist/data/test_500_y.npy'));
const batch = (i: number) => ({
  x: new ort.Tensor('float32', xs.readRows(i * B, B) as Float32Array, [B, 1, 28, 28]),
  y: ys.readRows(i * B, B) as BigInt64Array,
});
const loop: ForwardLoop = async (run) => {
  for (let i = 0; i < 64; i += 32) await run(new ort.Tensor('float32', xs.readRows(i, 32) as Float32Array, [32, 1, 28, 28]));
};

beforeAll(async () => {
  await usePlugin(calibrators);
});

async function quantized(file: string, nBits = 8, patterns = TENSORRT_PATTERNS): Promise<QuantizedModel> {
  const { model, matches } = transform(loadModel(vendored(file)), { patterns });
  const q = insertQdq(model, matches, { config: { activation: { nBits }, weight: { nBits, perChannel: true } } });
  await calibrate(q, loop, { calibrator: 'minmax', progress: false });
  return q;
}

describe('prepareQat', () => {
  it('a few steps on one batch lower the loss (ResNet, W4A4, AdamW)', async () => {
    const q = await quantized('fmnist_resnet.onnx', 4);
    // Without label smoothing (the default's 0.2 puts a floor under the loss this test watches fall).
    const qat = await prepareQat(q, { batchSize: B, loss: { type: 'cross-entropy', labelSmoothing: 0 }, optimizer: { type: 'adamw', lr: 1e-4 }, sessionOptions: ONE_THREAD });
    const { x, y } = batch(0);
    const losses: number[] = [];
    for (let i = 0; i < 4; i++) losses.push(await qat.step(x, y));
    expect(losses[3]!).toBeLessThan(losses[0]! * 0.5);
    await qat.release();
  }, 60_000);

  it('disableFakeQuant trains the float model (predict = FP32 logits); enableFakeQuant brings the Q/DQ back', async () => {
    const q = await quantized('fmnist_mobilenet.onnx');
    const qat = await prepareQat(q, { batchSize: B, loss: 'distillation', sessionOptions: ONE_THREAD });
    const { x } = batch(1);
    const fp = await ort.InferenceSession.create(modelToBytes(q.model));
    const fpLogits = (await fp.run({ input: x })).logits!.data as Float32Array;
    const maxDiff = (a: Float32Array) => Math.max(...Array.from(a, (v, i) => Math.abs(v - fpLogits[i]!)));
    expect(maxDiff(await qat.predict(x))).toBeGreaterThan(1e-3);
    // Distillation from the FP32 model itself: fake quant is the only source of loss.
    expect(await qat.step(x)).toBeGreaterThan(1e-4);
    disableFakeQuant(qat);
    expect(q.quantizers().every((z) => !z.enabled)).toBe(true);
    expect((await qat.trainingGraph()).model.graph.nodesOf('QuantizeLinear')).toHaveLength(0);
    // Without quantizers predict() is the float model with the trained weights.
    const trained = await ort.InferenceSession.create(modelToBytes(qat.model.model));
    const trainedLogits = (await trained.run({ input: x })).logits!.data as Float32Array;
    const plain = await qat.predict(x);
    expect(Math.max(...Array.from(plain, (v, i) => Math.abs(v - trainedLogits[i]!)))).toBeLessThan(1e-3);
    expect(maxDiff(plain)).toBeGreaterThan(1e-4); // the step did move the weights
    enableFakeQuant(qat);
    expect((await qat.trainingGraph()).model.graph.nodesOf('QuantizeLinear').length).toBe(q.quantizers().length);
    freezeBnStats(qat); // folded BatchNorm: frozen by construction, nothing to switch
    expect(qat.bnFrozen).toBe(true);
    expect((await qat.trainingGraph()).runningStats).toHaveLength(0);
    await qat.release();
  }, 60_000);

  it.each([false, true])('saveModel(qat.model) writes the same QDQ placement with the trained weights, and it runs as predict() says (learned weight scales: %s)', async (learnWeightScales) => {
    const q = await quantized('fmnist_resnet.onnx');
    const before = q.toExportModel({ quiet: true });
    const qat = await prepareQat(q, { batchSize: B, learnWeightScales, optimizer: { type: 'adamw', lr: 1e-3 }, sessionOptions: ONE_THREAD });
    for (let i = 0; i < 2; i++) await qat.step(batch(i).x, batch(i).y);
    const file = path.join(tmpDir(), 'resnet.qat.onnx');
    await saveModel(qat.model, file);
    const after = loadModel(file);
    const placement = (m: Model) => m.graph.nodes.filter((n) => n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear').map((n) => `${n.opType}:${n.input(0)!.name}`).sort();
    expect(placement(after)).toEqual(placement(before));
    const w = (m: Model, name: string) => Array.from(m.graph.value(name)!.initializer!.data() as Int8Array);
    const wname = q.weightQuantizers()[3]!.tensor.name + '_quantized';
    expect(w(after, wname)).not.toEqual(w(before, wname));
    const s = await ort.InferenceSession.create(fs.readFileSync(file), { graphOptimizationLevel: 'disabled' });
    const { x } = batch(3);
    const exported = (await s.run({ input: x })).logits!.data as Float32Array;
    const predicted = await qat.predict(x);
    const top = (a: Float32Array, b: number) => Array.from(a.subarray(b * 10, b * 10 + 10)).indexOf(Math.max(...a.subarray(b * 10, b * 10 + 10)));
    for (let b = 0; b < B; b++) expect(top(exported, b)).toBe(top(predicted, b));
    expect(Math.max(...Array.from(exported, (v, i) => Math.abs(v - predicted[i]!)))).toBeLessThan(0.05 * Math.max(...Array.from(predicted, Math.abs)));
    await qat.release();
  }, 60_000);

  it('an op without a gradient builder is named, node and all, before any training', async () => {
    const g = new Graph();
    const x = g.getOrCreateValue('input');
    x.type = { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 4 }] } } };
    g.inputs.push(x);
    const w = g.addInitializer('w', Tensor.fromArray(Float32Array.from({ length: 12 }, (_, i) => i / 10), [3, 4]));
    const h = g.addNode({ opType: 'Gemm', name: 'fc', inputs: [x, w], attrs: { transB: 1 } }).output();
    const y = g.addNode({ opType: 'Sinh', name: 'odd_activation', inputs: [h], outputs: [g.getOrCreateValue('logits')] }).output();
    y.type = { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 3 }] } } };
    g.outputs.push(y);
    const m = new Model(g, { irVersion: 8, opsetImport: [{ domain: '', version: 17 }] });
    const LINEAR = definePattern({ name: 'Linear', root: op('Gemm', [input('input')]), qdqPoints: ['input'] });
    const q = insertQdq(m, transform(m, { patterns: [LINEAR] }).matches.filter((mm) => mm.nodes.every((n) => m.graph.nodes.includes(n))));
    // Not calibrated: learned scales (the default) would refuse it first.
    const err = await prepareQat(q, { batchSize: 2, learnScales: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MissingGradientError);
    expect(String((err as Error).message)).toMatch(/Sinh node "odd_activation"/);
  });

  it('an interrupted run resumes from its last checkpoint to the same weights as an uninterrupted one', async () => {
    const train = async (epochs: number, dir: string, resume: boolean, stopAfter?: number) => {
      const stop = new AbortController();
      const q = await quantized('fmnist_resnet.onnx', 4);
      const qat = await prepareQat(q, { batchSize: B, optimizer: { type: 'adamw', lr: 1e-4 }, schedule: { type: 'cosine' }, sessionOptions: ONE_THREAD });
      const data = npyDataset(dataX, dataY);
      const onEpoch = (e: { epoch: number }) => e.epoch === stopAfter && stop.abort(); // Ctrl-C during epoch 2
      const r = await trainQat(qat, { data, epochs, limit: B, checkpointDir: dir, resume, progress: false, signal: stop.signal, onEpoch });
      data.close();
      const weights = new Map([...qat.params].map(([k, p]) => [k, Array.from(p.value)]));
      await qat.release();
      return { r, weights };
    };
    const straight = await train(2, tmpDir(), false);
    expect(straight.r.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    const dir = tmpDir();
    const first = await train(2, dir, false, 1);
    expect(first.r.interrupted).toBe(true);
    expect(first.r.epochs).toHaveLength(1);
    expect(first.r.epochs[0]!.checkpoint).toBe(path.join(dir, 'qat-checkpoint.bin'));
    const second = await train(2, dir, true);
    expect(second.r.resumedFrom).toBe(1);
    expect(second.r.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    for (const [k, v] of straight.weights) expect(second.weights.get(k)).toEqual(v);
    // Not vacuous: the first epoch alone ends elsewhere.
    expect(first.weights.get('fc.weight')).not.toEqual(straight.weights.get('fc.weight'));
  }, 120_000);

  it('BatchNorm kept by transform(): batch statistics train and update the running averages until freezeBnStats', async () => {
    const keepBn = TENSORRT_PATTERNS.filter((p) => p.name !== 'FoldBatchNorm');
    const q = await quantized('fmnist_resnet_bn.onnx', 8, keepBn);
    const bns = q.model.graph.nodesOf('BatchNormalization').length;
    expect(bns).toBeGreaterThan(0);
    const qat = await prepareQat(q, { batchSize: B, sessionOptions: ONE_THREAD });
    expect((await qat.trainingGraph()).runningStats).toHaveLength(2 * bns);
    const [name, stat] = [...qat.runningStats][0]!;
    const initial = Array.from(stat);
    await qat.step(batch(0).x, batch(0).y);
    const moved = Array.from(stat);
    expect(moved).not.toEqual(initial);
    freezeBnStats(qat);
    expect((await qat.trainingGraph()).runningStats).toHaveLength(0);
    await qat.step(batch(1).x, batch(1).y);
    expect(Array.from(stat)).toEqual(moved);
    // The export carries the updated statistics.
    expect(Array.from(qat.model.model.graph.value(name)!.initializer!.toFloat32())).toEqual(moved);
    await qat.release();
  }, 60_000);

  it('the default recipe: learned activation scales, cosine lr from 2e-4; an uncalibrated model is refused for it', async () => {
    const q = await quantized('fmnist_resnet.onnx', 4);
    const qat = await prepareQat(q, { batchSize: B, sessionOptions: ONE_THREAD });
    expect(qat.learnScales).toBe(true);
    expect(qat.scales.size).toBe(q.stubs().length);
    qat.setTotalSteps(2);
    const lrs: number[] = [];
    for (let i = 0; i < 2; i++) {
      await qat.step(batch(i).x, batch(i).y);
      lrs.push(qat.lastStep!.lr);
    }
    expect(lrs[0]).toBeCloseTo(2e-4, 12);
    expect(lrs[1]).toBeCloseTo(1e-4, 12); // halfway down the cosine
    // Weights and scales step together: AdamW counts one step per training step (its bias correction runs on the count).
    expect(qat.optimizer.state().step).toBe(2);
    await qat.release();
    // At 8 bits everywhere the default lr is 20× lower: PTQ is already near FP32 there.
    const w8 = await prepareQat(await quantized('fmnist_resnet.onnx', 8), { batchSize: B, sessionOptions: ONE_THREAD });
    await w8.step(batch(0).x, batch(0).y);
    expect(w8.lastStep!.lr).toBeCloseTo(1e-5, 12);
    await w8.release();
    const { model, matches } = transform(loadModel(vendored('fmnist_resnet.onnx')), { patterns: TENSORRT_PATTERNS });
    const raw = insertQdq(model, matches, { config: { activation: { nBits: 4 }, weight: { nBits: 4, perChannel: true } } });
    await expect(prepareQat(raw, { batchSize: B })).rejects.toThrow(/not calibrated .*learnScales: false/);
  }, 60_000);

  it('learned activation scales (LSQ) move with training and the export carries them', async () => {
    const q = await quantized('fmnist_resnet.onnx', 4);
    const qat = await prepareQat(q, { batchSize: B, learnScales: true, optimizer: { type: 'adamw', lr: 1e-4 }, sessionOptions: ONE_THREAD });
    expect(qat.scales.size).toBe(q.stubs().length);
    const initial = new Map([...qat.scales].map(([k, p]) => [k, p.value[0]!]));
    for (let i = 0; i < 2; i++) await qat.step(batch(i).x, batch(i).y);
    const moved = [...qat.scales].filter(([k, p]) => p.value[0] !== initial.get(k));
    expect(moved.length).toBe(q.stubs().length);
    const [tensor, learned] = moved[0]!;
    const exported = qat.model.toExportModel({ quiet: true });
    // Below 8 bits the export clips the integers between Q and DQ (Q → Clip → DQ).
    const quantizeOf = (n: Node) => (n.input(0)!.producer?.opType === 'Clip' ? n.input(0)!.producer!.input(0)!.producer : n.input(0)!.producer);
    const dq = exported.graph.nodes.find((n) => n.opType === 'DequantizeLinear' && quantizeOf(n)?.input(0)?.name === tensor)!;
    expect(dq.input(1)!.initializer!.toFloat32()[0]).toBe(learned.value[0]);
    await qat.release();
  }, 60_000);
});
