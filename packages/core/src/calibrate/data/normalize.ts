/**
 * Per-channel normalisation applied while a batch is assembled:
 * `out = (x * scale - mean[c]) / std[c]`, like torchvision's ToTensor + Normalize
 * (`scale: 1/255`). The channel axis is axis 1 of an NCHW batch.
 */
import { DataError } from './errors.js';

export interface Normalization {
  /** Multiplies raw values first (1/255 for 8-bit pixels). Default 1. */
  scale?: number;
  /** Subtracted per channel (one value for all channels, or one per channel). Default 0. */
  mean?: number | readonly number[];
  /** Divides per channel. Default 1. */
  std?: number | readonly number[];
}

/** Normalisation expanded to one (mean, std) per channel. */
export interface ChannelNormalization {
  scale: number;
  mean: Float64Array;
  std: Float64Array;
}

function expand(name: string, value: number | readonly number[] | undefined, fallback: number, channels: number, where: string): Float64Array {
  const list = value === undefined ? [fallback] : typeof value === 'number' ? [value] : [...value];
  if (list.length !== 1 && list.length !== channels) {
    throw new DataError('invalid-option', `${where}: normalisation ${name} has ${list.length} values but the data has ${channels} channels`);
  }
  if (!list.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new DataError('invalid-option', `${where}: normalisation ${name} must be finite numbers, got ${JSON.stringify(value)}`);
  }
  const out = new Float64Array(channels);
  for (let c = 0; c < channels; c++) out[c] = list.length === 1 ? list[0]! : list[c]!;
  return out;
}

/** Checks a Normalization against a channel count and expands it. */
export function resolveNormalization(norm: Normalization, channels: number, where: string): ChannelNormalization {
  const scale = norm.scale ?? 1;
  if (typeof scale !== 'number' || !Number.isFinite(scale)) {
    throw new DataError('invalid-option', `${where}: normalisation scale must be a finite number, got ${String(norm.scale)}`);
  }
  const mean = expand('mean', norm.mean, 0, channels, where);
  const std = expand('std', norm.std, 1, channels, where);
  if (std.some((s) => s === 0)) throw new DataError('invalid-option', `${where}: normalisation std must not be 0`);
  return { scale, mean, std };
}

/**
 * Normalises `samples` planar (C, plane) samples from `src` into `out` at `outOffset`.
 * `src` holds samples × channels × plane values in that order.
 */
export function normalizePlanar(
  src: ArrayLike<number>,
  out: Float32Array,
  outOffset: number,
  samples: number,
  plane: number,
  norm: ChannelNormalization,
): void {
  const channels = norm.mean.length;
  const { scale } = norm;
  let i = 0;
  for (let n = 0; n < samples; n++) {
    for (let c = 0; c < channels; c++) {
      const m = norm.mean[c]!;
      const s = norm.std[c]!;
      const end = i + plane;
      for (; i < end; i++) out[outOffset + i] = (src[i]! * scale - m) / s;
    }
  }
}
