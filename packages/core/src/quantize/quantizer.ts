import type { Value } from '../ir/value.js';
import type { PatternMatch } from '../patterns/pattern.js';
import type { CalibrationRange } from '../calibrate/calibrator.js';
import { integerRange, type TensorQuantConfig } from './config.js';
import { clamp, roundHalfEven } from './rounding.js';

export type QuantizerKind = 'QuantStub' | 'WeightFakeQuantize';

/**
 * A fake quantizer on one tensor: it knows its scale and zero point, which matches asked
 * for it, and can be switched off (QAT's disableFakeQuant). Calibration and QAT talk to
 * quantizers only through this interface.
 */
export interface Quantizer {
  readonly kind: QuantizerKind;
  /** The tensor quantized. */
  readonly tensor: Value;
  readonly config: TensorQuantConfig;
  /** The matches whose qdqPoints / weights put this quantizer here. */
  readonly matches: readonly PatternMatch[];
  /** Per-channel axis, or null for per-tensor. */
  readonly axis: number | null;
  /** False until a range was set (weights: set at creation; activations: by calibration). */
  readonly calibrated: boolean;
  /** Fake quantization on/off (off: the tensor passes through in float). */
  enabled: boolean;
  /** One scale per channel (length 1 when per-tensor). */
  readonly scale: Float32Array;
  readonly zeroPoint: Int32Array;
  /** Sets the range (per tensor) and recomputes scale and zero point. */
  setRange(range: CalibrationRange): void;
  /** Quantize-dequantize values in place (per tensor, or along `axis` given the tensor's dims). */
  fakeQuantize(values: Float32Array, dims?: readonly number[]): Float32Array;
  describe(): string;
}

/** Scale and zero point for a range: symmetric → amax/qmax, zero point 0; a zero range gets scale 1. */
export function scaleFor(range: CalibrationRange, config: TensorQuantConfig): { scale: number; zeroPoint: number } {
  const { qmin, qmax } = integerRange(config);
  const scale = new Float64Array(1);
  const zeroPoint = new Int32Array(1);
  scaleInto(range.min, range.max, range.amax, config.symmetric, qmin, qmax, scale, zeroPoint, 0);
  return { scale: scale[0]!, zeroPoint: zeroPoint[0]! };
}

/**
 * `scaleFor` of every channel's range (min[c], max[c], amax[c]) into scale / zeroPoint:
 * one loop without allocations, since a weight has thousands of channels and a fresh
 * process runs this code unoptimised.
 */
export function scalesFor(
  min: Float32Array, max: Float32Array, amax: Float32Array, config: TensorQuantConfig, scale: Float32Array, zeroPoint: Int32Array,
): void {
  const { qmin, qmax } = integerRange(config);
  for (let c = 0; c < scale.length; c++) scaleInto(min[c]!, max[c]!, amax[c]!, config.symmetric, qmin, qmax, scale, zeroPoint, c);
}

function scaleInto(
  min: number, max: number, amax: number, symmetric: boolean, qmin: number, qmax: number,
  scale: Float32Array | Float64Array, zeroPoint: Int32Array, c: number,
): void {
  if (symmetric) {
    const a = Math.abs(amax);
    scale[c] = a > 0 && Number.isFinite(a) ? a / qmax : 1;
    zeroPoint[c] = 0;
    return;
  }
  const lo = Math.min(min, 0);
  const hi = Math.max(max, 0);
  if (!(hi - lo > 0) || !Number.isFinite(hi - lo)) {
    scale[c] = 1;
    zeroPoint[c] = qmin;
    return;
  }
  const s = (hi - lo) / (qmax - qmin);
  scale[c] = s;
  zeroPoint[c] = clamp(roundHalfEven(qmin - lo / s), qmin, qmax);
}

/** Quantize-dequantize with one scale / zero point per channel along `axis`. */
export function fakeQuantizeInPlace(
  values: Float32Array,
  scale: Float32Array,
  zeroPoint: Int32Array,
  config: TensorQuantConfig,
  axis: number | null,
  dims?: readonly number[],
): Float32Array {
  const { qmin, qmax } = integerRange(config);
  if (axis !== null && scale.length > 1 && !dims) throw new Error('per-channel fake quantization needs the tensor dims');
  const inner = axis === null || scale.length === 1 ? values.length : dims!.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channels = scale.length;
  for (let start = 0, c = 0; start < values.length; start += inner, c = c + 1 === channels ? 0 : c + 1) {
    const s = scale[c]!, inv = 1 / s, z = zeroPoint[c]!;
    const end = Math.min(values.length, start + inner);
    for (let i = start; i < end; i++) values[i] = (clamp(roundHalfEven(values[i]! * inv) + z, qmin, qmax) - z) * s;
  }
  return values;
}
