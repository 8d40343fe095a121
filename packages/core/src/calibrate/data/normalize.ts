/**
 * Per-channel normalisation applied while a batch is assembled:
 * `out = (x * scale - mean[c]) / std[c]`, like torchvision's ToTensor + Normalize
 * (`scale: 1/255`). The channel axis is axis 1 of an NCHW batch.
 */
import { DataError } from './errors.js';

export interface Normalization {
  /**
   * A named set of scale / mean / std (see NORMALIZATION_PRESETS: "imagenet", "inception",
   * "clip", "unit", "raw"); `scale`, `mean`, `std` given beside it override its values.
   */
  preset?: NormalizationPreset;
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

/** The normalisations models are trained with, by the name their docs use. */
export const NORMALIZATION_PRESETS = Object.freeze({
  /** torchvision's ImageNet models (ResNet, MobileNet, ViT, ...). */
  imagenet: { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  /** Inception / TensorFlow "tf" mode, timm's Inception-style models: pixels to [-1, 1]. */
  inception: { scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  /** OpenAI CLIP's image encoders. */
  clip: { scale: 1 / 255, mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711] },
  /** ToTensor only: pixels to [0, 1] (YOLO models, many detectors). */
  unit: { scale: 1 / 255 },
  /** Pixel values as they are, 0–255. */
  raw: { scale: 1 },
} satisfies Record<string, Omit<Normalization, 'preset'>>);

export type NormalizationPreset = keyof typeof NORMALIZATION_PRESETS;

/** A Normalization with its preset expanded (its own scale / mean / std win). */
export function expandPreset(norm: Normalization, where: string): Omit<Normalization, 'preset'> {
  if (norm.preset === undefined) return norm;
  const base = (NORMALIZATION_PRESETS as Record<string, Omit<Normalization, 'preset'>>)[String(norm.preset).toLowerCase()];
  if (!base) {
    throw new DataError('invalid-option', `${where}: unknown normalisation preset "${norm.preset}" (presets: ${Object.keys(NORMALIZATION_PRESETS).join(', ')})`);
  }
  const { preset: _preset, ...own } = norm;
  return { ...base, ...Object.fromEntries(Object.entries(own).filter(([, v]) => v !== undefined)) };
}

/** One line saying what a normalisation does, for reports: `imagenet: x/255, mean [..], std [..]`. */
export function describeNormalization(norm: Normalization | undefined, defaultScale = 1): string {
  if (!norm) return defaultScale === 1 ? 'none (values as stored)' : `x·${formatScale(defaultScale)} only (no mean/std)`;
  const n = expandPreset(norm, 'normalize');
  const scale = n.scale ?? defaultScale;
  const list = (v: number | readonly number[] | undefined) => (v === undefined ? undefined : typeof v === 'number' ? String(v) : `[${v.join(', ')}]`);
  const parts = [scale !== 1 ? `x·${formatScale(scale)}` : 'x', n.mean !== undefined ? `mean ${list(n.mean)}` : '', n.std !== undefined ? `std ${list(n.std)}` : ''].filter(Boolean);
  return `${norm.preset ? `${norm.preset}: ` : ''}${parts.join(', ')}`;
}

function formatScale(s: number): string {
  const inv = 1 / s;
  return Math.abs(inv - Math.round(inv)) < 1e-9 ? `1/${Math.round(inv)}` : String(s);
}

/** Checks a Normalization against a channel count and expands it. */
export function resolveNormalization(given: Normalization, channels: number, where: string): ChannelNormalization {
  const norm = expandPreset(given, where);
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
