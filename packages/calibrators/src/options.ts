import type { CalibratorOptions } from '@qdeploy/core';

/**
 * Option parsing shared by the calibrators. Options arrive from user configs (YAML, JSON,
 * CLI), so every value is checked and an unknown key is an error: a typo such as
 * `{ percentil: 99.9 }` would otherwise silently calibrate with the default.
 */
export type OptionKind = 'integer' | 'number';

export interface OptionSpec {
  kind: OptionKind;
  /** Inclusive lower bound (unless `exclusiveMin`). */
  min?: number;
  exclusiveMin?: boolean;
  /** Inclusive upper bound. */
  max?: number;
}

export function readOptions<K extends string>(
  method: string,
  options: CalibratorOptions | undefined,
  spec: Record<K, OptionSpec>,
): Partial<Record<K, number>> {
  const out: Partial<Record<K, number>> = {};
  if (options === undefined || options === null) return out;
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new Error(`${method} calibrator: options must be an object, got ${describe(options)}`);
  }
  const known = Object.keys(spec) as K[];
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (!(known as string[]).includes(key)) {
      throw new Error(
        `${method} calibrator: unknown option "${key}"` +
          (known.length ? ` (accepted: ${known.join(', ')})` : ' (it takes no options)'),
      );
    }
    const s = spec[key as K];
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new Error(`${method} calibrator: option "${key}" must be a finite number, got ${describe(value)}`);
    }
    if (s.kind === 'integer' && !Number.isInteger(value)) {
      throw new Error(`${method} calibrator: option "${key}" must be an integer, got ${value}`);
    }
    if (s.min !== undefined && (s.exclusiveMin ? value <= s.min : value < s.min)) {
      throw new Error(`${method} calibrator: option "${key}" must be ${s.exclusiveMin ? '>' : '>='} ${s.min}, got ${value}`);
    }
    if (s.max !== undefined && value > s.max) {
      throw new Error(`${method} calibrator: option "${key}" must be <= ${s.max}, got ${value}`);
    }
    out[key as K] = value;
  }
  return out;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return 'an array';
  return v === null ? 'null' : typeof v === 'number' ? String(v) : typeof v;
}

/** Largest representable level for a signed `nBits` quantizer: 2^(nBits-1) - 1 (127 for INT8). */
export const maxBound = (nBits: number): number => 2 ** (nBits - 1) - 1;

/**
 * Checks the integer arguments of an exported function (the WebAssembly sweeps take int32):
 * `args` maps each name to [value, min, max = 2^30].
 */
export function checkIntegers(fn: string, args: Record<string, [number, number, number?]>): void {
  for (const [name, [value, min, max = 2 ** 30]] of Object.entries(args)) {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`${fn}: ${name} must be an integer in [${min}, ${max}], got ${value}`);
    }
  }
}
