// FoldBatchNorm on every layer layout it scales (its weights go through scaleChannels,
// whose WebAssembly kernel walks contiguous channel runs or across rows): the folded
// weights are the plain per-element products, and onnxruntime computes the same outputs.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  DataType, FoldBatchNorm, Graph, Model, Tensor, constant, definePattern, exportQdq, input, insertQdq, op, transform, type AttrValue, type Value,
} from '../src/index.js';
import { maxRelativeError, randomFloats, runModel } from '../src/testing/index.js';

const tensorType = (dims: readonly number[]) => ({ tensorType: { elemType: DataType.FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } });

/** x [inputDims] → layer(w [weightDims]) → BatchNormalization(channels) → y. */
function layerBn(opType: string, inputDims: number[], weightDims: number[], channels: number, attrs: Record<string, AttrValue> = {}): Model {
  const g = new Graph();
  const x = g.getOrCreateValue('x');
  x.type = tensorType(inputDims);
  g.inputs.push(x);
  let seed = 3;
  const param = (name: string, dims: number[], spread: number, center = 0) => {
    const data = randomFloats(dims.reduce((a, b) => a * b, 1), seed++);
    return g.addInitializer(name, Tensor.fromArray(data.map((v) => center + spread * v), dims));
  };
  const layer = g.addNode({ opType, name: 'layer', inputs: [x, param('w', weightDims, 0.5), param('b', [channels], 0.1)], attrs }).output();
  const bnInputs: Value[] = [layer, param('gamma', [channels], 0.5, 1), param('beta', [channels], 0.2), param('mean', [channels], 0.3), param('var', [channels], 0.4, 1)];
  const y = g.addNode({ opType: 'BatchNormalization', name: 'bn', inputs: bnInputs }).output();
  g.outputs.push(y);
  return new Model(g, { irVersion: 8, opsetImport: [{ domain: '', version: 17 }] });
}

/** w · γ/√(σ²+ε) per element, channel c(i) as the layout says: the plain arithmetic. */
function expectedWeight(m: Model, channelOf: (i: number) => number): Float32Array {
  const f = (name: string) => m.graph.value(name)!.constant()!.toFloat32();
  const [w, gamma, variance] = [f('w'), f('gamma'), f('var')];
  const scale = Float32Array.from(gamma, (g0, c) => g0 / Math.sqrt(variance[c]! + 1e-5));
  return w.map((x, i) => x * scale[channelOf(i)]!);
}

const CASES: { name: string; model: () => Model; inputDims: number[]; channelOf: (i: number) => number }[] = [
  // Conv KCRS: channel runs of C·R·S contiguous values (walked along the runs).
  { name: 'Conv [8, 3, 3, 3] (axis 0, runs of 27)', model: () => layerBn('Conv', [2, 3, 6, 6], [8, 3, 3, 3], 8), inputDims: [2, 3, 6, 6], channelOf: (i) => Math.floor(i / 27) },
  // Gemm without transB: w is [K, N], channels alternate value by value (across rows).
  { name: 'Gemm [12, 20] without transB (axis 1, across rows)', model: () => layerBn('Gemm', [4, 12], [12, 20], 20), inputDims: [4, 12], channelOf: (i) => i % 20 },
  { name: 'Gemm [20, 12] with transB (axis 0)', model: () => layerBn('Gemm', [4, 12], [20, 12], 20, { transB: 1 }), inputDims: [4, 12], channelOf: (i) => Math.floor(i / 12) },
  // ConvTranspose [Cin, Cout/group, 3, 3], group 2: each group's block scales by its own channels.
  {
    name: 'ConvTranspose [6, 5, 3, 3], group 2 (axis 1, runs of 9 across rows, per group)',
    model: () => layerBn('ConvTranspose', [1, 6, 4, 4], [6, 5, 3, 3], 10, { group: 2 }),
    inputDims: [1, 6, 4, 4],
    channelOf: (i) => Math.floor(i / (3 * 5 * 9)) * 5 + (Math.floor(i / 9) % 5),
  },
];

describe('FoldBatchNorm', () => {
  for (const c of CASES) {
    it(`${c.name}: the plain products, and the same outputs`, async () => {
      const model = c.model();
      const { model: folded, conversions } = transform(model, { patterns: [FoldBatchNorm] });
      expect(conversions).toEqual({ FoldBatchNorm: 1 });
      const layer = folded.graph.nodes.find((n) => n.name === 'layer')!;
      expect(Array.from(layer.input(1)!.constant()!.toFloat32())).toEqual(Array.from(expectedWeight(model, c.channelOf)));
      const feeds = { x: new ort.Tensor('float32', randomFloats(c.inputDims.reduce((a, b) => a * b, 1), 9), c.inputDims) };
      const [ref, got] = [await runModel(model, feeds), await runModel(folded, feeds)];
      const out = Object.keys(ref)[0]!;
      expect(maxRelativeError(ref[out]!, got[out]!)).toBeLessThanOrEqual(1e-5);
    });
  }
});

// The folded weight stays a product not yet computed (Tensor.scaled) until someone reads
// it; insertQdq and the export fold its factors into their own passes. They must give
// what they give on the computed product.
const Layer = definePattern({
  name: 'Layer',
  root: op(['Conv', 'Gemm', 'ConvTranspose'], [input('input'), constant('weight')]).as('layer'),
  qdqPoints: ['input'],
  weights: [{ role: 'weight', axis: (m) => (m.captured.layer!.opType === 'ConvTranspose' || (m.captured.layer!.opType === 'Gemm' && !m.captured.layer!.attr('transB', 0)) ? 1 : 0) }],
});

/** The int8 weights, scales and zero points a QDQ export writes. */
function exported(m: Model, perChannel: boolean, symmetric: boolean): Record<string, number[]> {
  const { model, matches } = transform(m, { patterns: [Layer] });
  const q = insertQdq(model, matches, { config: { weight: { perChannel, symmetric } } });
  const out = exportQdq(q);
  return Object.fromEntries(out.graph.initializers().filter((v) => v.name.startsWith('w_')).map((v) => [v.name, Array.from(v.initializer!.toNumbers())]));
}

describe('FoldBatchNorm: the product on first use', () => {
  for (const c of CASES) {
    it(`${c.name}: insertQdq and the export give what they give on the computed product`, () => {
      const { model: folded } = transform(c.model(), { patterns: [FoldBatchNorm] });
      const w = () => folded.graph.nodes.find((n) => n.name === 'layer')!.input(1)!.constant()!;
      const lazy = c.name.startsWith('ConvTranspose') ? null : w().channelFactors();
      if (!c.name.startsWith('ConvTranspose')) expect(lazy).not.toBeNull(); // grouped ConvTranspose folds at once
      for (const [perChannel, symmetric] of [[true, true], [false, true], [true, false]] as const) {
        const fromFactors = exported(folded, perChannel, symmetric);
        expect(w().channelFactors() === null).toBe(lazy === null); // still not computed
        const computed = folded.clone(); // shares tensors: give it the product as a plain array
        computed.graph.nodes.find((n) => n.name === 'layer')!.input(1)!.initializer = Tensor.fromArray(w().toFloat32Copy(), w().dims);
        const fromProduct = exported(computed, perChannel, symmetric);
        expect(Object.keys(fromFactors).length).toBe(3); // the int8 weight, its scale, its zero point
        expect({ perChannel, symmetric, ...fromFactors }).toEqual({ perChannel, symmetric, ...fromProduct });
      }
    });
  }
});
