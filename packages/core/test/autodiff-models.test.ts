import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildGradientGraph, modelToBytes, type Model } from '../src/index.js';
import { vendored } from './helpers/fixtures.js';
import { trainingGraph } from './helpers/training-graph.js';

/**
 * Whole fixture models: the gradient graph runs in onnxruntime, and sampled weight
 * gradients match central finite differences of the loss (float32, so compared relative
 * to the largest gradient element of the same weight).
 */
async function checkModel(file: string, samplesPerWeight: number, weightsToSample: number, edit?: (m: Model) => void, eps = 1e-2) {
  const t = await trainingGraph(vendored(file), 2, 3, edit);
  const train = t.model.clone();
  const { gradients } = buildGradientGraph(train.graph, { loss: t.loss, wrt: t.weights, shapes: t.shapes });
  const session = await ort.InferenceSession.create(modelToBytes(train), { graphOptimizationLevel: 'all' });
  const out = await session.run(t.feeds);
  await session.release();
  expect(gradients.size).toBe(t.weights.length);
  const forward = await ort.InferenceSession.create(modelToBytes(t.model), { graphOptimizationLevel: 'disabled' });
  const lossAt = async (w: string, i: number, delta: number) => {
    const data = (t.feeds[w]!.data as Float32Array).slice();
    data[i]! += delta;
    const o = await forward.run({ ...t.feeds, [w]: new ort.Tensor('float32', data, t.feeds[w]!.dims) });
    return Number((o[t.loss]!.data as Float32Array)[0]);
  };
  // Spread the sampled weights over the network (first, middle, last …).
  const step = Math.max(1, Math.floor(t.weights.length / weightsToSample));
  const sampled = t.weights.filter((_, k) => k % step === 0).slice(0, weightsToSample);
  let checked = 0;
  for (const w of sampled) {
    const g = out[gradients.get(w)!]!.data as Float32Array;
    let big = 0;
    let at = 0;
    for (let i = 0; i < g.length; i++) if (Math.abs(g[i]!) > big) { big = Math.abs(g[i]!); at = i; }
    // Some gradients are exactly zero in exact arithmetic (a key bias shifts every score of a
    // softmax row equally): only float noise is left, nothing to compare.
    if (big < 1e-5) continue;
    const coords = [at, ...Array.from({ length: samplesPerWeight - 1 }, (_, k) => Math.floor(((k + 1) * g.length) / samplesPerWeight))];
    for (const i of coords) {
      const fd = ((await lossAt(w, i, eps)) - (await lossAt(w, i, -eps))) / (2 * eps);
      expect(Math.abs(fd - g[i]!) / big, `${file} ${w}[${i}]: analytic ${g[i]} vs finite difference ${fd}`).toBeLessThan(3e-2);
      checked++;
    }
  }
  await forward.release();
  expect(checked).toBeGreaterThan(weightsToSample);
}

describe('autodiff: whole fixture models', () => {
  it('fmnist_resnet: gradient graph runs, weight gradients match finite differences', async () => checkModel('fmnist_resnet.onnx', 3, 6), 30_000);
  it('fmnist_mobilenet (depthwise, Clip)', async () => checkModel('fmnist_mobilenet.onnx', 3, 6), 30_000);
  it('fmnist_vit_small (attention MatMuls, LayerNorm, Erf-GELU, Softmax, Gather, Concat)', async () => checkModel('fmnist_vit_small.onnx', 3, 8), 30_000);
  it('fmnist_resnet_bn (BatchNormalization kept, inference mode)', async () => checkModel('fmnist_resnet_bn.onnx', 2, 6), 30_000);
  it('fmnist_resnet_bn with BatchNormalization in training mode (batch statistics)', async () => checkModel('fmnist_resnet_bn.onnx', 2, 6, (m) => {
    for (const bn of m.graph.nodesOf('BatchNormalization')) {
      bn.setAttr('training_mode', 1);
      bn.setOutputs([bn.outputs[0]!, m.graph.addValue(`${bn.name}_running_mean`), m.graph.addValue(`${bn.name}_running_var`)]);
    }
  }, 3e-3), 30_000); // batch statistics of 2 images curve the loss: a smaller step (1e-2 is 3 % off, 3e-3 within 0.5 %)
});
