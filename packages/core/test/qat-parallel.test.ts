// Data-parallel QAT steps on worker threads (qat/parallel): k workers on 1/k of the batch
// each give the loss, gradients (through the trained weights and learned scales) and train
// accuracy of one session on the whole batch; BatchNorm training and uneven batches fall
// back to one session.
import * as ort from 'onnxruntime-node';
import * as path from 'node:path';
import os from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import { calibrate, insertQdq, loadModel, openNpy, prepareQat, transform, usePlugin, type QatOptions, type QuantizedModel } from '../src/index.js';
import calibrators from '@qdeploy/calibrators';
import { TENSORRT_PATTERNS } from '@qdeploy/backend-tensorrt';
import { maxRelativeError } from '../src/testing/index.js';
import { repoRoot, vendored } from './helpers/fixtures.js';

const B = 8;
const xs = openNpy(path.join(repoRoot(), 'examples/fashion-mnist/data/test_500_x.npy'));
const ys = openNpy(path.join(repoRoot(), 'examples/fashion-mnist/data/test_500_y.npy'));
const x = new ort.Tensor('float32', xs.readRows(0, B) as Float32Array, [B, 1, 28, 28]);
const y = ys.readRows(0, B) as BigInt64Array;

beforeAll(async () => {
  await usePlugin(calibrators);
});

async function quantized(file: string, patterns = TENSORRT_PATTERNS): Promise<QuantizedModel> {
  const { model, matches } = transform(loadModel(vendored(file)), { patterns });
  const q = insertQdq(model, matches, { config: { activation: { nBits: 4 }, weight: { nBits: 4, perChannel: true } } });
  await calibrate(q, async (run) => run(x), { calibrator: 'minmax', progress: false });
  return q;
}

/** One SGD step at lr 1 (w' = w − g, so the weights and scales carry the gradients) with `options`. */
async function oneStep(q: QuantizedModel, options: QatOptions) {
  const qat = await prepareQat(q, { batchSize: B, optimizer: { type: 'sgd', lr: 1, momentum: 0 }, ...options });
  const graphBatch = (await qat.trainingGraph()).dataInputs[0]!.dims[0];
  const loss = await qat.step(x, y);
  const correct = qat.lastStep!.correct;
  const state = qat.toCheckpoint(0);
  const params = new Map([...state.params].map(([k, v]) => [k, v.slice()]));
  const scales = new Map([...state.scales].map(([k, v]) => [k, v.slice()]));
  const weightScales = new Map([...state.weightScales].map(([k, v]) => [k, v.slice()]));
  await qat.release();
  return { loss, correct, params, scales, weightScales, graphBatch };
}

describe('QAT step on worker threads', () => {
  for (const loss of ['cross-entropy', 'distillation'] as const) {
    it(`two workers give one session's ${loss} loss, gradients and accuracy`, async () => {
      const q = await quantized('fmnist_mobilenet.onnx');
      const start = (name: string) => q.model.graph.value(name)!.initializer!.toFloat32();
      const one = await oneStep(q, { loss, workers: 1, sessionOptions: { intraOpNumThreads: 1 } });
      const two = await oneStep(q, { loss, workers: 2 });
      expect([one.graphBatch, two.graphBatch]).toEqual([B, B / 2]);
      expect(Math.abs(two.loss - one.loss)).toBeLessThan(1e-5 * Math.abs(one.loss));
      expect(two.correct).toBe(one.correct);
      expect(one.params.size).toBeGreaterThan(20);
      for (const [name, w] of one.params) {
        const g = (v: Float32Array) => v.map((u, i) => start(name)[i]! - u);
        expect(maxRelativeError(g(two.params.get(name)!), g(w)), name).toBeLessThan(1e-4);
      }
      expect(one.scales.size).toBeGreaterThan(0); // learned activation scales: their gradients averaged too
      for (const [name, s] of one.scales) expect(two.scales.get(name)![0]).toBeCloseTo(s[0]!, 5);
    }, 60_000);
  }

  it('two workers give one session\'s learned weight-scale gradients (shared with the workers like the weights)', async () => {
    const q = await quantized('fmnist_mobilenet.onnx');
    const start = new Map(q.weightQuantizers().map((wq) => [wq.tensor.name, wq.scale.slice()]));
    const one = await oneStep(q, { learnWeightScales: true, workers: 1, sessionOptions: { intraOpNumThreads: 1 } });
    const two = await oneStep(q, { learnWeightScales: true, workers: 2 });
    expect(one.weightScales.size).toBe(start.size);
    for (const [name, s] of one.weightScales) {
      const g = (v: Float32Array) => v.map((u, i) => start.get(name)![i]! - u);
      expect(g(s).some((d) => d !== 0), name).toBe(true);
      expect(maxRelativeError(g(two.weightScales.get(name)!), g(s)), name).toBeLessThan(1e-4);
    }
  }, 60_000);

  it('by default as many workers as the cores allow with 4 samples each; intra-op threads given: one session', async () => {
    const q = await quantized('fmnist_mobilenet.onnx');
    const graphBatch = async (options: QatOptions) => {
      const qat = await prepareQat(q, { batchSize: B, ...options });
      const b = (await qat.trainingGraph()).dataInputs[0]!.dims[0];
      await qat.release();
      return b;
    };
    expect(await graphBatch({})).toBe(os.availableParallelism() >= 2 ? B / 2 : B); // batch 8: at most 2 workers
    expect(await graphBatch({ sessionOptions: { intraOpNumThreads: 2 } })).toBe(B);
  }, 60_000);

  it('falls back to one session for BatchNorm on batch statistics and for a batch that does not split', async () => {
    const keepBn = TENSORRT_PATTERNS.filter((p) => p.name !== 'FoldBatchNorm');
    const bn = await oneStep(await quantized('fmnist_resnet_bn.onnx', keepBn), { workers: 2 });
    expect(bn.graphBatch).toBe(B);
    const q = await quantized('fmnist_mobilenet.onnx');
    const qat = await prepareQat(q, { batchSize: 6, workers: 4 });
    expect((await qat.trainingGraph()).dataInputs[0]!.dims[0]).toBe(6);
    await qat.release();
  }, 60_000);
});
