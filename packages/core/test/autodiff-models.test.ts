import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { DataType, Tensor, buildGradientGraph, modelToBytes, type Model } from '../src/index.js';
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

describe('autodiff: a fake-quantized fixture model (QAT-style graph)', () => {
  /**
   * fmnist_resnet with an 8-bit Q→DQ pair on every Conv/Gemm input (fixed scale) and on
   * every weight (per output channel, scale = max|W|/127 computed in the graph, gradient
   * stopped through it, as QAT recomputes weight scales each step).
   */
  function fakeQuantize(m: Model, scales: Set<string>) {
    const g = m.graph;
    const int8 = (n: number) => g.addInitializer(g.uniqueName('zp'), Tensor.fromArray(new Int8Array(Math.max(n, 1)), n ? [n] : [], DataType.INT8));
    for (const n of [...g.nodes]) {
      if (n.opType !== 'Conv' && n.opType !== 'Gemm') continue;
      const x = n.input(0)!;
      const s = g.addInitializer(g.uniqueName('act_scale'), Tensor.fromArray(new Float32Array([4 / 127]), []));
      const zp = int8(0);
      const q = g.addNode({ opType: 'QuantizeLinear', name: g.uniqueName(`${n.name}_in_q`), inputs: [x, s, zp] }).output();
      n.setInput(0, g.addNode({ opType: 'DequantizeLinear', name: g.uniqueName(`${n.name}_in_dq`), inputs: [q, s, zp] }).output());
      const w = n.input(1)!;
      const m0 = w.initializer ? w.initializer.dims[0]! : (w.type!.tensorType!.shape!.dim![0]!.dimValue as number);
      const rank = w.initializer ? w.initializer.dims.length : w.type!.tensorType!.shape!.dim!.length;
      const amax = g.addNode({ opType: 'ReduceMax', name: g.uniqueName(`${n.name}_w_amax`), inputs: [g.addNode({ opType: 'Abs', name: g.uniqueName(`${n.name}_w_abs`), inputs: [w] }).output()], attrs: { axes: [...Array(rank).keys()].slice(1), keepdims: 0 } }).output();
      const ws = g.addNode({ opType: 'Div', name: g.uniqueName(`${n.name}_w_scale`), inputs: [amax, g.addInitializer(g.uniqueName('qmax'), Tensor.fromArray(new Float32Array([127]), []))] }).output();
      scales.add(ws.name);
      const wzp = int8(m0);
      const wq = g.addNode({ opType: 'QuantizeLinear', name: g.uniqueName(`${n.name}_w_q`), inputs: [w, ws, wzp], attrs: { axis: 0 } }).output();
      n.setInput(1, g.addNode({ opType: 'DequantizeLinear', name: g.uniqueName(`${n.name}_w_dq`), inputs: [wq, ws, wzp], attrs: { axis: 0 } }).output());
    }
    g.toposort();
  }

  it('needs the weight scales stopped (ReduceMax has no builder), then its STE gradients track the float ones', async () => {
    const float = await trainingGraph(vendored('fmnist_resnet.onnx'), 4);
    const scales = new Set<string>();
    const fq = await trainingGraph(vendored('fmnist_resnet.onnx'), 4, 3, (m) => fakeQuantize(m, scales));
    expect(() => buildGradientGraph(fq.model.clone().graph, { loss: fq.loss, wrt: fq.weights, shapes: fq.shapes })).toThrow(/ReduceMax node/);
    const grads = async (t: typeof fq, stop?: Set<string>) => {
      const train = t.model.clone();
      const { gradients } = buildGradientGraph(train.graph, { loss: t.loss, wrt: t.weights, shapes: t.shapes, stopGradient: stop });
      const s = await ort.InferenceSession.create(modelToBytes(train), { graphOptimizationLevel: 'all' });
      const out = await s.run(t.feeds);
      await s.release();
      return new Map(t.weights.map((w) => [w, out[gradients.get(w)!]!.data as Float32Array]));
    };
    const [gq, gf] = [await grads(fq, scales), await grads(float)];
    for (const [w, a] of gq) {
      const b = gf.get(w)!;
      let dot = 0, na = 0, nb = 0;
      for (let i = 0; i < a.length; i++) { dot += a[i]! * b[i]!; na += a[i]! ** 2; nb += b[i]! ** 2; }
      expect(dot / Math.sqrt(na * nb), w).toBeGreaterThan(0.9);
    }
  }, 30_000);
});
