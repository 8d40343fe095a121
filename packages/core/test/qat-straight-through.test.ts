// A weight's fake quant on the grid of its own max |w| clips nothing, so the training graph
// marks it straight-through and autodiff passes dY to the weight without differentiating the
// chain: the same gradients as the chain differentiated op by op, without its passes.
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import calibrators from '@qdeploy/calibrators';
import { TENSORRT_PATTERNS } from '@qdeploy/backend-tensorrt';
import { buildGradientGraph, calibrate, insertQdq, loadModel, modelToBytes, openNpy, staticShapes, transform, usePlugin } from '../src/index.js';
import { buildTrainingGraph } from '../src/qat/training-graph.js';
import { resolveLoss } from '../src/qat/loss.js';
import { repoRoot, vendored } from './helpers/fixtures.js';

const B = 4;
const xs = openNpy(path.join(repoRoot(), 'examples/fashion-mnist/data/test_500_x.npy'));
const x = new ort.Tensor('float32', xs.readRows(0, B) as Float32Array, [B, 1, 28, 28]);

beforeAll(async () => {
  await usePlugin(calibrators);
});

/** Loss and every weight gradient of one step, with the weights' fake quant straight-through or differentiated. */
async function gradients(file: string, straight: boolean) {
  const { model, matches } = transform(loadModel(vendored(file)), { patterns: TENSORRT_PATTERNS });
  const q = insertQdq(model, matches, { config: { activation: { nBits: 4 }, weight: { nBits: 4, perChannel: true } } });
  await calibrate(q, async (run) => run(x), { calibrator: 'minmax', progress: false });
  const tg = buildTrainingGraph(q, { batchSize: B, loss: resolveLoss('cross-entropy'), learnScales: false, bnTraining: false });
  const feeds: Record<string, ort.Tensor> = { input: x, [tg.labels!]: new ort.Tensor('int64', BigInt64Array.from([1n, 2n, 3n, 4n]), [B]) };
  for (const p of tg.params) feeds[p.name] = new ort.Tensor('float32', q.model.graph.value(p.name)!.initializer!.toFloat32(), p.dims);
  const shapes = await staticShapes(tg.model, feeds);
  const wrt = tg.params.map((p) => p.name);
  const { gradients } = buildGradientGraph(tg.model.graph, { loss: tg.loss, wrt, shapes, stopGradient: tg.stopGradient, straightThrough: straight ? tg.straightThrough : new Map() });
  const s = await ort.InferenceSession.create(modelToBytes(tg.model));
  const out = await s.run(feeds);
  const backward = tg.model.graph.nodes.filter((n) => n.name.includes('_Grad/')).length;
  return { tg, q, backward, grads: new Map(wrt.map((w) => [w, out[gradients.get(w)!]!.data as Float32Array])) };
}

describe('QAT: max-scaled weight fake quant is straight-through', () => {
  for (const file of ['fmnist_vit_small.onnx', 'fmnist_resnet.onnx']) {
    it(`${file}: every weight gradient as with the chain differentiated, fewer backward nodes`, async () => {
      const [a, b] = [await gradients(file, true), await gradients(file, false)];
      expect(a.tg.straightThrough.size).toBe(a.q.weightQuantizers().length);
      for (const [w, g] of a.grads) {
        const ref = b.grads.get(w)!;
        const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        expect(scale).toBeGreaterThan(0);
        for (let i = 0; i < g.length; i++) expect(Math.abs(g[i]! - ref[i]!)).toBeLessThanOrEqual(1e-4 * scale);
      }
      // The chains' masks and scale arithmetic are gone from the backward pass.

      expect(a.backward).toBeLessThan(b.backward - 2 * a.tg.straightThrough.size);
    }, 60_000);
  }
});
