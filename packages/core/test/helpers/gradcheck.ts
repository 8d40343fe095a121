// Checks a gradient builder against central finite differences: the op under test feeds
// loss = Σ Y·R (R fixed random, so every output element matters), the gradient graph is
// built and run by onnxruntime, and each wrt element is nudged by ±eps in the forward model.
import * as ort from 'onnxruntime-node';
import { DataType, Graph, Model, Tensor, buildGradientGraph, modelToBytes, staticShapes, type Value } from '../../src/index.js';
import { randomFloats } from '../../src/testing/index.js';

export type Precision = 'float32' | 'float64';

export interface InputSpec {
  shape: number[];
  /** Float data (default: random in [-1, 1)); for int64 inputs, the integers. */
  data?: ArrayLike<number>;
  int64?: boolean;
  /** A gradient is checked for this input (default true for float inputs). */
  wrt?: boolean;
  /** Stored as an initializer rather than fed (a constant operand). */
  constant?: boolean;
}

export interface GradCheckSpec {
  inputs: Record<string, InputSpec>;
  /** Adds the nodes under test; returns the value whose Σ Y·R is the loss. */
  build: (g: Graph, x: Record<string, Value>, floatType: number) => Value;
  precision?: Precision;
  eps?: number;
  seed?: number;
  opset?: number;
  /** Skip the finite differences (for estimators such as the STE, checked against their formula). */
  analyticOnly?: boolean;
}

export interface GradCheckResult {
  analytic: Record<string, Float64Array>;
  numeric: Record<string, Float64Array>;
  /** max over wrt inputs of max|a − n| / max|n|. */
  maxRelError: number;
  /** min over wrt inputs of the cosine between the analytic and numeric gradients. */
  minCosine: number;
  graph: Graph;
  /** dLoss/dY (the R of Σ Y·R) and the inputs fed. */
  outputGradient: Float64Array;
  feeds: Record<string, ort.Tensor>;
}

export async function gradCheck(spec: GradCheckSpec): Promise<GradCheckResult> {
  const precision = spec.precision ?? 'float64';
  const ft = precision === 'float64' ? DataType.DOUBLE : DataType.FLOAT;
  const toFloat = (a: ArrayLike<number>) => (precision === 'float64' ? Float64Array.from(a) : Float32Array.from(a));
  const g = new Graph();
  const feeds: Record<string, ort.Tensor> = {};
  const values: Record<string, Value> = {};
  const wrt: string[] = [];
  let seed = spec.seed ?? 7;
  for (const [name, s] of Object.entries(spec.inputs)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const data = s.data ?? randomFloats(n, seed++);
    if (s.constant) {
      values[name] = g.addInitializer(name, s.int64 ? Tensor.fromArray(BigInt64Array.from(Array.from(data, (d) => BigInt(d))), s.shape) : Tensor.fromArray(toFloat(data), s.shape));
      continue;
    }
    const v = g.getOrCreateValue(name);
    v.type = { tensorType: { elemType: s.int64 ? DataType.INT64 : ft, shape: { dim: s.shape.map((d) => ({ dimValue: d })) } } };
    g.inputs.push(v);
    values[name] = v;
    feeds[name] = s.int64 ? new ort.Tensor('int64', BigInt64Array.from(Array.from(data, (d) => BigInt(d))), s.shape) : new ort.Tensor(precision, toFloat(data), s.shape);
    if (!s.int64 && s.wrt !== false) wrt.push(name);
  }
  const y = spec.build(g, values, ft);
  const yShape = await probeShape(g, y, feeds, spec.opset);
  const r = g.addInitializer('R', Tensor.fromArray(toFloat(randomFloats(yShape.reduce((a, b) => a * b, 1), 99)), yShape));
  const prod = g.addNode({ opType: 'Mul', inputs: [y, r], name: 'loss_mul' }).output();
  const loss = g.addNode({ opType: 'ReduceSum', inputs: [prod], attrs: { keepdims: 0 }, name: 'loss_sum' }).output();
  g.outputs.push(loss);
  const model = new Model(g, { irVersion: 8, opsetImport: [{ domain: '', version: spec.opset ?? 17 }] });

  const shapes = await staticShapes(model, feeds);
  const train = model.clone();
  const { gradients } = buildGradientGraph(train.graph, { loss: loss.name, wrt, shapes });
  const out = await run(train, feeds);
  const analytic = Object.fromEntries(wrt.map((w) => [w, Float64Array.from(out[gradients.get(w)!]!.data as Float32Array)]));

  const outputGradient = Float64Array.from(r.initializer!.data() as Float32Array);
  if (spec.analyticOnly) return { analytic, numeric: {}, maxRelError: NaN, minCosine: NaN, graph: train.graph, outputGradient, feeds };
  const eps = spec.eps ?? (precision === 'float64' ? 1e-6 : 1e-2);
  const session = await ort.InferenceSession.create(modelToBytes(model), { graphOptimizationLevel: 'disabled' });
  const numeric: Record<string, Float64Array> = {};
  try {
    for (const w of wrt) {
      const base = feeds[w]!.data as Float32Array | Float64Array;
      const d = new Float64Array(base.length);
      for (let i = 0; i < base.length; i++) {
        const at = async (delta: number) => {
          const p = base.slice();
          p[i] = base[i]! + delta;
          const o = await session.run({ ...feeds, [w]: new ort.Tensor(precision, p, feeds[w]!.dims) });
          return Number((o[loss.name]!.data as Float32Array)[0]);
        };
        d[i] = ((await at(eps)) - (await at(-eps))) / (2 * eps);
      }
      numeric[w] = d;
    }
  } finally {
    await session.release();
  }
  let maxRelError = 0;
  let minCosine = 1;
  for (const w of wrt) {
    const [a, n] = [analytic[w]!, numeric[w]!];
    let diff = 0, scale = 0, dot = 0, na = 0, nn = 0;
    for (let i = 0; i < a.length; i++) {
      diff = Math.max(diff, Math.abs(a[i]! - n[i]!));
      scale = Math.max(scale, Math.abs(n[i]!));
      dot += a[i]! * n[i]!; na += a[i]! ** 2; nn += n[i]! ** 2;
    }
    maxRelError = Math.max(maxRelError, diff / (scale || 1));
    minCosine = Math.min(minCosine, na === 0 && nn === 0 ? 1 : dot / Math.sqrt(na * nn || 1));
  }
  return { analytic, numeric, maxRelError, minCosine, graph: train.graph, outputGradient, feeds };
}

export async function run(model: Model, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(modelToBytes(model), { graphOptimizationLevel: 'disabled' });
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

async function probeShape(g: Graph, y: Value, feeds: Record<string, ort.Tensor>, opset = 17): Promise<number[]> {
  const probe = new Model(g.clone(), { irVersion: 8, opsetImport: [{ domain: '', version: opset }] });
  probe.graph.outputs = [probe.graph.value(y.name)!];
  const out = await run(probe, feeds);
  return [...out[y.name]!.dims];
}

/** Adds one node to the graph and returns its first output. */
export function node(g: Graph, opType: string, inputs: (Value | null)[], attrs: Record<string, any> = {}, outputs = 1): Value {
  return g.addNode({ opType, inputs, attrs, outputs, name: g.uniqueName(opType) }).output();
}
