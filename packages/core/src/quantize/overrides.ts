import type { PatternMatch } from '../patterns/pattern.js';
import type { TensorQuantConfigInput } from './config.js';
import { matchId, nameMatcher } from './exclude.js';

/**
 * How one quantizer departs from the config (onnxruntime's TensorQuantOverrides): bit
 * width, symmetry, per-channel, and a fixed amax for a tensor whose range the user knows
 * (calibration then leaves it alone).
 */
export interface TensorOverride extends TensorQuantConfigInput {
  /** Fixed range [-amax, amax]; the stub is not calibrated. */
  amax?: number;
}

/** Overrides for the quantizers one match asked for. */
export interface MatchOverride {
  activation?: TensorOverride;
  weight?: TensorOverride;
}

/**
 * Per-tensor and per-match overrides. Mixed precision (W4 here, W8 there) is a set of
 * match overrides. A stub shared by matches with different overrides takes the widest
 * bit width; a tensor override wins over match overrides.
 */
export interface QuantOverrides {
  /** By tensor name (activation or weight). */
  tensors?: Record<string, TensorOverride>;
  /** By match id (its anchor node's name), "/regex/" over match ids, or pattern name. */
  matches?: Record<string, MatchOverride>;
}

/** The merged match overrides that apply to `m` (later keys win, except nBits: widest). */
export function matchOverrideFor(m: PatternMatch, overrides: QuantOverrides | undefined): MatchOverride {
  const out: MatchOverride = {};
  for (const [key, o] of Object.entries(overrides?.matches ?? {})) {
    if (key !== m.pattern.name && !nameMatcher(key)(matchId(m))) continue;
    if (o.activation) out.activation = mergeWidest(out.activation, o.activation);
    if (o.weight) out.weight = mergeWidest(out.weight, o.weight);
  }
  return out;
}

/** b over a, keeping the wider of the two bit widths. */
export function mergeWidest(a: TensorOverride | undefined, b: TensorOverride): TensorOverride {
  const merged = { ...a, ...b };
  if (a?.nBits !== undefined && b.nBits !== undefined) merged.nBits = Math.max(a.nBits, b.nBits);
  return merged;
}

/** Checks an override's values (one-line errors naming where it came from). */
export function checkOverride(o: TensorOverride, where: string): void {
  if (o.amax !== undefined && !(Number.isFinite(o.amax) && o.amax > 0)) throw new Error(`${where}: amax must be a positive finite number, got ${String(o.amax)}`);
}
