import * as ort from 'onnxruntime-node';
import type { Model } from '../ir/model.js';
import type { Graph } from '../ir/graph.js';
import type { Value } from '../ir/value.js';
import type { AttrValue } from '../ir/node.js';
import { Tensor } from '../ir/tensor.js';
import { DataType } from '../ir/dtype.js';
import { createSession } from './session.js';
import { channelsOf } from './channels.js';
import { sampleStrideOf } from './sample.js';
import { provablyNonNegative } from './non-negative.js';

/** onnxruntime's contrib domain (its QuantizeLinear takes int16 at any ai.onnx opset). */
const MS_DOMAIN = 'com.microsoft';

/**
 * Output names under which the observation graph returns a tensor's batch extrema (no
 * `min` for a tensor the graph proves to be >= 0, see `binnedNames`). An
 * infinite value shows in them; a NaN made inside the network may not (onnxruntime's
 * ReduceMin/ReduceMax and GlobalMaxPool may skip NaN), and a full NaN probe pass cost
 * minmax ~15 % of its time, so minmax leaves it to the input check (validateFeed rejects
 * NaN inputs).
 */
export const extremaOutputs = (name: string) => ({ min: `${name}__qdeploy_min`, max: `${name}__qdeploy_max` });

/**
 * Input and output names of a tensor binned inside the observation graph (see
 * `observationSession`): `range` is the graph input (float scalar) that carries the
 * calibrator's current range; the outputs are the signed bin indices (int16, the
 * tensor's shape), the batch's range (float scalar), the signed extrema and a
 * non-finite probe. There is no `min` output for a tensor the graph proves to be >= 0
 * (`provablyNonNegative`): its min counts as 0, all a range uses of it.
 */
export const binnedNames = (name: string) => ({
  range: `${name}__qdeploy_range`,
  indices: `${name}__qdeploy_bins`,
  batchRange: `${name}__qdeploy_batch_range`,
  min: `${name}__qdeploy_bmin`,
  max: `${name}__qdeploy_bmax`,
  probe: `${name}__qdeploy_probe`,
});

/**
 * A tensor to bin in the graph into `bins` equal bins of |x| (see `observationSession`);
 * with `stride` > 1 (for a 4-D tensor only: see `sampleStrideOf`), only its values on the
 * grid of `sampleGrid` are binned.
 */
export interface BinnedObservation {
  name: string;
  bins: number;
  stride?: number;
}

/** The largest growth of the range within one batch that the graph handles: 2^MAX_DOUBLINGS. */
export const MAX_DOUBLINGS = 30;
/** Bin indices are returned as int16, in [-bins - 1, bins] (±bins for |x| = range). */
export const MAX_GRAPH_BINS = 32767;
/** The ai.onnx ops the binning nodes use (GreaterOrEqual, Where, keepdims reductions, ...) are all there from opset 13. */
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
 * so the tensor never leaves onnxruntime) of `extremaNames`, only the max of one that
 * the graph proves >= 0 (`provablyNonNegative`); and, for `binned`, the values
 * already binned: an int16 bin index per value, so 2 bytes a value (not 4) leave
 * onnxruntime and the calibrator only has to count them.
 *
 * Binning, for a tensor x with B bins (all in float32), given the calibrator's current
 * range r on the input `binnedNames(x).range` (0 before any non-zero value was seen):
 *   probe = a sum over x: NaN or ±Infinity iff some value is (ReduceMin, ReduceMax and
 *       GlobalMaxPool may skip NaN, so they cannot tell), or if the sum overflows;
 *   with a stride s > 1, x is then replaced by its grid sample MaxPool(x, 1×1, strides s)
 *       (`sampleGrid`): the rest sees only those values;
 *   mn, mx = the signed extrema of x (see `Reductions`), bmax = max(-mn, mx) (= max |x|);
 *       for x that the graph proves >= 0 (ReLU outputs, ...), only mx, and bmax = mx:
 *       the min would cost a negated copy of x;
 *   R = (r > 0 ? r : bmax) · 2^k for the smallest k in 0..30 with R >= bmax — found by
 *       comparing the 31 candidates (exact: multiplying by a power of two does not round),
 *       not with a logarithm, whose rounding picks the wrong k at exact powers of two;
 *       +Infinity when no k fits (a batch more than 2^30 times wider than r);
 *   w = R / B (1 / B when R = 0: then every x is 0);
 *   indices = QuantizeLinear<int16>(x − w/2, w) = round-half-even(x/w − 1/2) = floor(x/w),
 *       the signed floor: for x >= 0 it is the bin of |x| on the grid of R (bin k covers
 *       [k·w, (k+1)·w)); for x < 0 the bin of |x| is −index − 1. ±B only for |x| = R,
 *       which belongs to the last bin. A value exactly on a bin edge may land one bin
 *       lower (the tie rounds to even). One vectorised pass, with the sign folded in the
 *       counting, instead of the Abs, Mul, Floor and Cast passes of the obvious graph.
 * The caller must treat a non-finite probe or R, or a width w that is not a normal
 * float32 (R < B · 2^-126), as "not binned" and redo the batch from the values.
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
  for (const b of binned) {
    if (!canBinInGraph(model, b.name, b.bins)) {
      find(b.name);
      throw new Error(`cannot bin tensor "${b.name}" into ${b.bins} bins inside the graph (needs ai.onnx opset >= ${MIN_BINNING_OPSET}, a float tensor and 1..${MAX_GRAPH_BINS} bins)`);
    }
    const s = b.stride ?? 1;
    if (!Number.isInteger(s) || s < 1 || (s > 1 && sampleStrideOf(model, b.name, s) !== s)) {
      throw new Error(`cannot sample tensor "${b.name}" with stride ${s}: a stride is a positive integer, and above 1 only for a tensor the graph shows to be 4-D N×C×H×W`);
    }
  }
  const reductions = new Reductions(g);
  const constants = binned.length ? binningConstants(g) : null;
  const nonNegative = new Map<Value, boolean>();
  const observations = [
    ...extremaNames.map((name) => ({ x: find(name), add: (x: Value) => addExtrema(g, x, name, reductions, provablyNonNegative(x, nonNegative)) })),
    ...binned.map((b) => ({ x: find(b.name), add: (x: Value) => addBinning(g, x, b, constants!, reductions, provablyNonNegative(x, nonNegative)) })),
  ];
  // onnxruntime runs the nodes in the order of a depth-first walk from the graph's leaves,
  // the last-added leaf first. So the observation of the last-computed tensor is added
  // first and that of the first-computed one last: each tensor is then observed right
  // after it is computed, while in cache, and its memory reused at once — not all at
  // the end of the run (which made histogram calibration of the fmnist ResNet ~15 % slower).
  const position = new Map(g.nodes.map((n, i) => [n, i]));
  const computedAt = (v: Value) => (v.producer ? position.get(v.producer) ?? -1 : -1);
  observations.sort((a, b) => computedAt(b.x) - computedAt(a.x));
  for (const o of observations) o.add(o.x);
  // The int16 QuantizeLinear is onnxruntime's contrib op: ai.onnx has int16 only from opset 21.
  if (binned.length && m.opset(MS_DOMAIN) === undefined) m.setOpset(MS_DOMAIN, 1);
  return createSession(m, { graphOptimizationLevel: 'all', ...options });
}

interface BinningConstants {
  int16Zero: Value;
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
    int16Zero: g.addInitializer('__qdeploy_int16_zero', Tensor.fromArray(new Int16Array([0]), [])),
    zero: scalar('zero', 0),
    one: scalar('one', 1),
    inf: scalar('inf', Infinity),
    pow2: g.addInitializer('__qdeploy_pow2', Tensor.fromArray(pow2, [MAX_DOUBLINGS + 1])),
    scalar,
  };
}

function addExtrema(g: Graph, x: Value, name: string, reductions: Reductions, nonNegative: boolean): void {
  const { min, max } = reductions.extrema(x, extremaOutputs(name), nonNegative);
  if (min) g.outputs.push(min);
  g.outputs.push(max);
}

function addBinning(g: Graph, x: Value, b: BinnedObservation, c: BinningConstants, reductions: Reductions, nonNegative: boolean): void {
  const names = binnedNames(b.name);
  const r = g.getOrCreateValue(names.range);
  if (r.producer || g.inputs.includes(r)) throw new Error(`cannot bin tensor "${b.name}": the model already has a value named "${names.range}"`);
  r.type = { tensorType: { elemType: DataType.FLOAT, shape: { dim: [] } } };
  g.inputs.push(r);
  const node = (opType: string, inputs: Value[], attrs?: Record<string, AttrValue>, output?: string, domain = ''): Value =>
    addObservationNode(g, b.name, opType, inputs, attrs, output, domain);
  const output = (v: Value) => g.outputs.push(v);

  output(reductions.sum(x, names.probe));
  // The grid sample: a 1×1 MaxPool, which onnxruntime runs in its NCHWc layout.
  const s = b.stride ?? 1;
  if (s > 1) x = node('MaxPool', [x], { kernel_shape: [1, 1], strides: [s, s] });
  const { min: mn, max: mx, negMin } = reductions.extrema(x, { min: names.min, max: names.max }, nonNegative);
  if (mn) output(mn);
  output(mx);
  const bmax = mn ? node('Max', [negMin ?? node('Neg', [mn]), mx]) : mx;
  // R: the current range (or bmax when there is none yet) doubled until it covers bmax.
  const base = node('Where', [node('Greater', [r, c.zero]), r, bmax]);
  const candidates = node('Mul', [base, c.pow2]);
  const fitting = node('Where', [node('GreaterOrEqual', [candidates, bmax]), candidates, c.inf]);
  const R = node('ReduceMin', [fitting], { keepdims: 0 }, names.batchRange);
  output(R);
  // w = R / B, the bin width (R = 0 means every x is 0: any positive width bins them to 0).
  const width = node('Div', [node('Where', [node('Greater', [R, c.zero]), R, c.one]), c.scalar(`bins_${b.bins}`, b.bins)]);
  // floor(x / w) = round-half-even(x / w - 1/2): one vectorised QuantizeLinear pass.
  const shifted = node('Sub', [x, node('Mul', [width, c.scalar('half', 0.5)])]);
  output(node('QuantizeLinear', [shifted, width, c.int16Zero], undefined, names.indices, MS_DOMAIN));
}

/**
 * Whole-tensor reductions for calibration. A 4-D tensor whose channel count the graph
 * tells is reduced per channel first, with ops onnxruntime runs in its blocked NCHWc
 * layout (GlobalMaxPool, GlobalAveragePool, and a depthwise 1×1 Conv with weight −1 for
 * −x): a ReduceMin/ReduceMax straight on it would make onnxruntime copy the tensor back to
 * NCHW first, which cost more than the reductions themselves (fashion-MNIST ResNet: +33 %
 * of the inference time for minmax, against +10 % this way). Other tensors use the Reduce
 * ops directly.
 */
class Reductions {
  private readonly negWeights = new Map<number, Value>();
  /** channelsOf's answers on this graph: each observed tensor is asked for twice or more. */
  private readonly channels = new Map<Value, number | null>();

  constructor(private readonly g: Graph) {}

  /**
   * Signed min and max of `x` as scalar graph values named `names.min` / `names.max`, and
   * max(−x) (= −min) when the graph computes it on the way (for max |x| without a Neg);
   * only the max when `nonNegative` (the graph proves x >= 0: its min counts as 0).
   */
  extrema(x: Value, names: { min: string; max: string }, nonNegative = false): { min?: Value; max: Value; negMin?: Value } {
    const C = this.blockedChannels(x);
    const max = this.max(x, names.max);
    if (nonNegative) return { max };
    if (C === null) return { min: this.node('ReduceMin', [x], { keepdims: 0 }, names.min), max };
    const negated = this.node('Conv', [x, this.negWeight(C)], { group: C });
    const negMax = this.node('ReduceMax', [this.node('GlobalMaxPool', [negated])], { keepdims: 0 });
    return { min: this.node('Neg', [negMax], undefined, names.min), max, negMin: negMax };
  }

  /** The max of `x` as a scalar graph value named `name`. */
  private max(x: Value, name: string): Value {
    const input = this.blockedChannels(x) === null ? x : this.node('GlobalMaxPool', [x]);
    return this.node('ReduceMax', [input], { keepdims: 0 }, name);
  }

  /**
   * A scalar that is NaN or ±Infinity when some value of `x` is (ReduceMin, ReduceMax and
   * GlobalMaxPool may skip NaN; a sum cannot), or, harmlessly, when a sum overflows.
   */
  sum(x: Value, name: string): Value {
    const C = this.blockedChannels(x);
    const input = C === null ? x : this.node('GlobalAveragePool', [x]);
    return this.node('ReduceSum', [input], { keepdims: 0 }, name);
  }

  /**
   * C when `x` is likely in onnxruntime's NCHWc layout: computed (graph inputs are NCHW)
   * with a channel count that fills whole blocks of 8 (onnxruntime leaves others in NCHW,
   * where a 1-channel depthwise Conv would be padded to a block of work for nothing).
   */
  private blockedChannels(x: Value): number | null {
    if (!x.producer) return null;
    const C = channelsOf(x, this.channels);
    return C !== null && C % 8 === 0 ? C : null;
  }

  private negWeight(C: number): Value {
    let w = this.negWeights.get(C);
    if (!w) {
      w = this.g.addInitializer(`__qdeploy_neg_${C}`, Tensor.fromArray(new Float32Array(C).fill(-1), [C, 1, 1, 1]));
      this.negWeights.set(C, w);
    }
    return w;
  }

  private node(opType: string, inputs: Value[], attrs?: Record<string, number>, output?: string): Value {
    return addObservationNode(this.g, output ?? inputs[0]!.name, opType, inputs, attrs, output);
  }
}

/**
 * Appends one node of the observation graph, named after `base` (unique in the graph),
 * and returns its output: the value named `output` when given (a graph output the
 * caller reads by that name), else a fresh one.
 */
function addObservationNode(g: Graph, base: string, opType: string, inputs: Value[], attrs?: Record<string, AttrValue>, output?: string, domain = ''): Value {
  return g
    .addNode({
      opType,
      domain,
      name: g.uniqueName(`${base}__qdeploy_${opType}`),
      inputs,
      outputs: output !== undefined ? [g.getOrCreateValue(output)] : 1,
      ...(attrs ? { attrs } : {}),
    })
    .output();
}
