/**
 * Fake quantization in the training graph. Activations: Clip → QuantizeLinear →
 * DequantizeLinear with the calibrated scale (a constant), or with a learned one (LSQ),
 * a graph input the clip bounds are multiples of. Weights: the scale is
 * recomputed in the graph from the weight itself every step (max |w| per output channel /
 * qmax) and the gradient is stopped through it, so the straight-through estimator sees a
 * fixed grid, as in PyTorch's per-channel fake quant; or, with learned weight scales, the
 * per-channel scale is a graph input with LSQ's gradient (w / s → Clip → Q/DQ at 1 → × s).
 */
import { DataType } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import type { Value } from '../ir/value.js';
import { exportedIntegerRange, integerRange } from '../quantize/config.js';
import type { QuantStub } from '../quantize/quant-stub.js';
import type { WeightFakeQuantize } from '../quantize/weight-fake-quantize.js';
import { addTypedInput, op, reduce, scalarFloat } from './ops.js';

function zeroPointOf(g: Graph, base: string, symmetric: boolean, value: number, count?: number): Value {
  const dims = count === undefined ? [] : [count];
  const n = count ?? 1;
  const data = symmetric ? new Int8Array(n).fill(value) : new Uint8Array(n).fill(value);
  return g.addInitializer(g.uniqueName(`${base}_qat_zero_point`), Tensor.fromArray(data, dims, symmetric ? DataType.INT8 : DataType.UINT8));
}

/**
 * Activation fake quant on `x`; returns the fake-quantized value. `learned`: the scale is
 * a graph input (returned as `scaleInput`; `shared`, when given, is that input: the stubs of
 * one scale group learn one scale), else the stub's calibrated scale; `base` names the
 * nodes and the scale input (the stub's tensor, also where the fake quant reads above it). Always
 * Clip → QuantizeLinear → DequantizeLinear, the clip at the stub's integer range (below
 * 8 bits the int8 container would not clip; a learned scale's bounds are the scale times
 * constants, so they move with it): autodiff differentiates that chain as one
 * ClippedFakeQuantize, whose mask is the clip's and whose scale gradient is LSQ's.
 */
export function addActivationFakeQuant(g: Graph, x: Value, stub: QuantStub, learned: boolean, shared: Value | null = null, base = x.name): { out: Value; scaleInput: Value | null } {
  const { qmin, qmax } = exportedIntegerRange(stub.config);
  const z = stub.zeroPoint[0]!;
  const scaleInput = learned ? (shared ?? addTypedInput(g, g.addValue(`${base}_qat_scale`), DataType.FLOAT, [])) : null;
  const s = scaleInput ?? scalarFloat(g, `${base}_qat_scale`, stub.scale[0]!);
  const bound = (name: string, units: number) =>
    scaleInput ? op(g, 'Mul', [scaleInput, scalarFloat(g, `${base}_qat_${name}_units`, units)], base) : scalarFloat(g, `${base}_qat_${name}`, units * stub.scale[0]!);
  const clipped = op(g, 'Clip', [x, bound('lo', qmin - z), bound('hi', qmax - z)], base);
  const zp = zeroPointOf(g, base, stub.config.symmetric, z);
  const q = op(g, 'QuantizeLinear', [clipped, s, zp], base);
  return { out: op(g, 'DequantizeLinear', [q, s, zp], base), scaleInput };
}

/**
 * x / s → Clip[lo, hi] → Q/DQ at scale 1 → × s: round(x / s) · s on the grid, with s
 * broadcast. Learned per-channel weight scales: differentiated op by op, the STE for x and
 * LSQ's gradient for s (the activations' Clip(x, s·lo, s·hi) form needs scalar bounds).
 * Max-scaled weights off the outer axis: no clip, and the chain is straight-through.
 */
function unitGridFakeQuant(g: Graph, x: Value, s: Value, clip: readonly [number, number] | null, zp: Value, base: string): Value {
  const scaled = op(g, 'Div', [x, s], base);
  // No clip where |x / s| ≤ qmax by construction (s from max |x|): the int8 container never saturates either.
  const clipped = clip ? op(g, 'Clip', [scaled, scalarFloat(g, `${base}_qat_lo`, clip[0]), scalarFloat(g, `${base}_qat_hi`, clip[1])], base) : scaled;
  const one = scalarFloat(g, `${base}_qat_unit`, 1);
  // Q(v, 1, z) − z = round(v) for v in [lo, hi]: the grid in units of s.
  const q = op(g, 'QuantizeLinear', [clipped, one, zp], base);
  const dq = op(g, 'DequantizeLinear', [q, one, zp], base);
  return op(g, 'Mul', [dq, s], base);
}

/** The shape of a learned weight scale: its channels on `axis`, 1 elsewhere (broadcasts against w); [] per tensor. */
export function weightScaleDims(dims: readonly number[], axis: number | null): number[] {
  return axis === null ? [] : dims.map((d, i) => (i === axis ? d : 1));
}

/**
 * Weight fake quant with a learned scale (LSQ on weights): the per-channel scale is a graph
 * input of shape weightScaleDims, so the export can carry the trained scales as they are.
 */
export function addLearnedWeightFakeQuant(g: Graph, w: Value, dims: readonly number[], wq: Pick<WeightFakeQuantize, 'config' | 'axis'>): { out: Value; scaleInput: Value } {
  if (!wq.config.symmetric) throw new Error(`prepareQat: weight ${w.name} uses asymmetric quantization; learned weight scales are symmetric only`);
  const { qmin, qmax } = integerRange(wq.config);
  const base = w.name;
  const scaleInput = addTypedInput(g, g.addValue(`${base}_qat_weight_scale`), DataType.FLOAT, weightScaleDims(dims, wq.axis));
  return { out: unitGridFakeQuant(g, w, scaleInput, [qmin, qmax], zeroPointOf(g, base, true, 0), base), scaleInput };
}

/**
 * Weight fake quant on the weight input `w` (dims `dims`); returns the fake-quantized
 * weight and the in-graph scale value (to stop the gradient at). Per channel along axis
 * 0 (conv weights) it is QuantizeLinear → DequantizeLinear on that axis. Along another
 * axis (a MatMul weight [K, N] per output column) it is w / s → Q/DQ at scale 1 → × s,
 * s broadcast: onnxruntime's per-axis QuantizeLinear runs element by element when the
 * axis is not the outermost (a 384×1536 weight: 13.6 ms, against 1.3 ms along axis 0),
 * and transposing first is undone by its transpose optimizer. The values are the same:
 * the grid is round(w / s) either way. The grid is scaled to max |w|, so nothing clips
 * and the straight-through estimator passes the whole gradient: the training graph lists
 * `out → w` in its straightThrough map, and autodiff does not differentiate the chain.
 */
export function addWeightFakeQuant(g: Graph, opset: number, w: Value, dims: readonly number[], wq: WeightFakeQuantize): { out: Value; scale: Value; stop: Value[] } {
  if (!wq.config.symmetric) throw new Error(`prepareQat: weight ${w.name} uses asymmetric quantization; QAT recomputes weight scales symmetrically (max |w| / qmax) only`);
  const { qmax } = integerRange(wq.config);
  const base = w.name;
  const axis = wq.axis;
  const inner = axis !== null && axis !== 0;
  const abs = op(g, 'Abs', [w], base);
  const others = axis === null ? null : dims.map((_, i) => i).filter((i) => i !== axis);
  const amax = reduce(g, opset, 'ReduceMax', abs, others, inner ? 1 : 0, base);
  // A channel of zeros gets a tiny scale instead of 0 (the export's scale 1 gives the same zeros).
  const guarded = op(g, 'Max', [amax, scalarFloat(g, `${base}_qat_tiny`, 1e-30)], base);
  const scale = op(g, 'Div', [guarded, scalarFloat(g, `${base}_qat_qmax`, qmax)], base);
  // Stopped where the scale path leaves w (|w|) and at the scale itself.
  if (inner) return { out: unitGridFakeQuant(g, w, scale, null, zeroPointOf(g, base, true, 0), base), scale, stop: [abs, scale] };
  const channels = axis === null ? undefined : dims[axis]!;
  const zp = zeroPointOf(g, base, true, 0, channels);
  const attrs: Record<string, number> = axis === null ? {} : { axis };
  const q = op(g, 'QuantizeLinear', [w, scale, zp], base, attrs);
  return { out: op(g, 'DequantizeLinear', [q, scale, zp], base, attrs), scale, stop: [abs, scale] };
}
