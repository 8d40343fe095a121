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
  if (config.symmetric) {
    const amax = Math.abs(range.amax);
    return { scale: amax > 0 && Number.isFinite(amax) ? amax / qmax : 1, zeroPoint: 0 };
  }
  const lo = Math.min(range.min, 0);
  const hi = Math.max(range.max, 0);
  if (!(hi - lo > 0) || !Number.isFinite(hi - lo)) return { scale: 1, zeroPoint: qmin };
  const scale = (hi - lo) / (qmax - qmin);
  return { scale, zeroPoint: clamp(roundHalfEven(qmin - lo / scale), qmin, qmax) };
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
