import * as ort from 'onnxruntime-node';
import type { Model } from '../ir/model.js';
import type { Graph } from '../ir/graph.js';
import type { Value } from '../ir/value.js';
import { Tensor } from '../ir/tensor.js';
import { DataType } from '../ir/dtype.js';
import { modelToBytes } from '../onnx/save.js';

/**
 * Output names under which the observation graph returns a tensor's batch extrema. An
 * infinite value shows in them; a NaN made inside the network does not (onnxruntime's
 * ReduceMin/ReduceMax skip NaN), and a full NaN probe pass cost minmax ~15 % of its
 * time, so minmax leaves it to the input check (validateFeed rejects NaN inputs).
 */
export const extremaOutputs = (name: string) => ({ min: `${name}__qdeploy_min`, max: `${name}__qdeploy_max` });

/**
 * Input and output names of a tensor binned inside the observation graph (see
 * `observationSession`): `range` is the graph input (float scalar) that carries the
 * calibrator's current range; the outputs are the signed bin indices (int16, the
 * tensor's shape), the batch's range (float scalar), the signed extrema and a
 * non-finite probe.
 */
export const binnedNames = (name: string) => ({
  range: `${name}__qdeploy_range`,
  indices: `${name}__qdeploy_bins`,
  batchRange: `${name}__qdeploy_batch_range`,
  min: `${name}__qdeploy_bmin`,
  max: `${name}__qdeploy_bmax`,
  probe: `${name}__qdeploy_probe`,
});

/** A tensor to bin in the graph into `bins` equal bins of |x| (see `observationSession`). */
export interface BinnedObservation {
  name: string;
  bins: number;
}

/** The largest growth of the range within one batch that the graph handles: 2^MAX_DOUBLINGS. */
export const MAX_DOUBLINGS = 30;
/** Bin indices are returned as int16, and reach ±bins (for |x| = range). */
export const MAX_GRAPH_BINS = 32767;
/** The ops the binning nodes use (ReduceSum with axes as an optional input, GreaterOrEqual, ...) are all there from opset 13. */
export const MIN_BINNING_OPSET = 13;

/**
 * Whether `observationSession` can bin tensor `name` of `model` into `bins` bins inside the
 * graph: an ai.onnx opset >= 13, a float (or untyped) tensor, and 1..32767 bins.
 */
export function canBinInGraph(model: Model, name: string, bins: number): boolean {
  const opset = model.opset('');
  if (opset === undefined || opset < MIN_BINNING_OPSET) return false;
  if (!Number.isInteger(bins) || bins < 1 || bins > MAX_GRAPH_BINS) return false;
  const v = model.graph.value(name);
  if (!v) return false;
  const t = v.elemType;
  return t === null || t === DataType.FLOAT;
}

/**
 * An onnxruntime session over the FP32 graph that also returns what calibration needs:
 * the full values of `tensorNames`; only the min and max (reduced inside the graph,
 * so the tensor never leaves onnxruntime) of `extremaNames`; and, for `binned`, the values
 * already binned: an int16 bin index per value, so 2 bytes a value (not 4) leave
 * onnxruntime and the calibrator only has to count them.
 *
 * Binning, for a tensor x with B bins (all in float32), given the calibrator's current
 * range r on the input `binnedNames(x).range` (0 before any non-zero value was seen):
 *   mn = ReduceMin(x), mx = ReduceMax(x), bmax = max(-mn, mx) (= max |x|);
 *   R = (r > 0 ? r : bmax) · 2^k for the smallest k in 0..30 with R >= bmax — found by
 *       comparing the 31 candidates (exact: multiplying by a power of two does not round),
 *       not with a logarithm, whose rounding picks the wrong k at exact powers of two;
 *       +Infinity when no k fits (a batch more than 2^30 times wider than r);
 *   f = x · (B / R) (B / 1 when R = 0: then every x is 0);
 *   indices = Cast<int16>(f), which truncates towards zero: |indices| = floor(|x| · B / R),
 *       the bin of |x| on the grid of R — bin k covers [k·R/B, (k+1)·R/B) — with the sign
 *       of x; ±B only for |x| = R, which belongs to the last bin. (Taking the sign along
 *       saves the Abs, Floor and Min passes over the tensor an unsigned index would need;
 *       rounding is symmetric, so it is the same bin as |x| · B / R would give.)
 *   probe = ReduceSum(f): NaN or ±Infinity iff some value is (onnxruntime's ReduceMin and
 *       ReduceMax skip NaN, so they cannot tell; |f| <= B keeps the sum far from
 *       overflow), or when B / R overflows (R < B / 3.4e38).
 * The caller must treat a non-finite probe or R as "not binned" and redo the batch from
 * the values.
 */
export async function observationSession(
  model: Model,
  tensorNames: readonly string[],
  options: ort.InferenceSession.SessionOptions = {},
  extremaNames: readonly string[] = [],
  binned: readonly BinnedObservation[] = [],
): Promise<ort.InferenceSession> {
  const m = model.clone();
  const g = m.graph;
  const find = (name: string) => {
    const v = g.value(name);
    if (!v) throw new Error(`cannot observe tensor "${name}": it is not in the model`);
    return v;
  };
  for (const name of tensorNames) {
    const v = find(name);
    if (!g.outputs.includes(v)) g.outputs.push(v);
  }
  for (const name of extremaNames) {
    const v = find(name);
    const out = extremaOutputs(name);
    for (const [op, outName] of [['ReduceMin', out.min], ['ReduceMax', out.max]] as const) {
      const node = g.addNode({ opType: op, name: g.uniqueName(outName), inputs: [v], outputs: [g.getOrCreateValue(outName)], attrs: { keepdims: 0 } });
      g.outputs.push(node.output());
    }
  }
  if (binned.length) {
    for (const b of binned) {
      if (!canBinInGraph(model, b.name, b.bins)) {
        find(b.name);
        throw new Error(`cannot bin tensor "${b.name}" into ${b.bins} bins inside the graph (needs ai.onnx opset >= ${MIN_BINNING_OPSET}, a float tensor and 1..${MAX_GRAPH_BINS} bins)`);
      }
    }
    const constants = binningConstants(g);
    for (const b of binned) addBinning(g, find(b.name), b, constants);
  }
  return ort.InferenceSession.create(modelToBytes(m), { graphOptimizationLevel: 'all', ...options });
}

interface BinningConstants {
  zero: Value;
  one: Value;
  inf: Value;
  pow2: Value;
  scalar(key: string, v: number): Value;
}

function binningConstants(g: Graph): BinningConstants {
  const cache = new Map<string, Value>();
  const scalar = (key: string, v: number): Value => {
    let c = cache.get(key);
    if (!c) {
      c = g.addInitializer(`__qdeploy_${key}`, Tensor.fromArray(new Float32Array([v]), []));
      cache.set(key, c);
    }
    return c;
  };
  const pow2 = new Float32Array(MAX_DOUBLINGS + 1);
  for (let k = 0; k <= MAX_DOUBLINGS; k++) pow2[k] = 2 ** k;
  return {
    zero: scalar('zero', 0),
    one: scalar('one', 1),
    inf: scalar('inf', Infinity),
    pow2: g.addInitializer('__qdeploy_pow2', Tensor.fromArray(pow2, [MAX_DOUBLINGS + 1])),
    scalar,
  };
}

function addBinning(g: Graph, x: Value, b: BinnedObservation, c: BinningConstants): void {
  const names = binnedNames(b.name);
  const r = g.getOrCreateValue(names.range);
  if (r.producer || g.inputs.includes(r)) throw new Error(`cannot bin tensor "${b.name}": the model already has a value named "${names.range}"`);
  r.type = { tensorType: { elemType: DataType.FLOAT, shape: { dim: [] } } };
  g.inputs.push(r);
  const prefix = `${b.name}__qdeploy`;
  const node = (opType: string, inputs: Value[], attrs?: Record<string, number>, output?: string): Value =>
    g
      .addNode({
        opType,
        name: g.uniqueName(`${prefix}_${opType}`),
        inputs,
        outputs: output !== undefined ? [g.getOrCreateValue(output)] : 1,
        ...(attrs ? { attrs } : {}),
      })
      .output();
  const output = (v: Value) => g.outputs.push(v);

  const mn = node('ReduceMin', [x], { keepdims: 0 }, names.min);
  const mx = node('ReduceMax', [x], { keepdims: 0 }, names.max);
  output(mn);
  output(mx);
  const bmax = node('Max', [node('Neg', [mn]), mx]);
  // R: the current range (or bmax when there is none yet) doubled until it covers bmax.
  const base = node('Where', [node('Greater', [r, c.zero]), r, bmax]);
  const candidates = node('Mul', [base, c.pow2]);
  const fitting = node('Where', [node('GreaterOrEqual', [candidates, bmax]), candidates, c.inf]);
  const R = node('ReduceMin', [fitting], { keepdims: 0 }, names.batchRange);
  output(R);
  const scale = node('Div', [c.scalar(`bins_${b.bins}`, b.bins), node('Where', [node('Greater', [R, c.zero]), R, c.one])]);
  const f = node('Mul', [x, scale]);
  output(node('ReduceSum', [f], { keepdims: 0 }, names.probe));
  output(node('Cast', [f], { to: DataType.INT16 }, names.indices));
}
