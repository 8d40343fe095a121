/**
 * One pass over a batch: signed extrema, and a check that every value is finite.
 * This is the first half of every calibrator's hot path, so it allocates nothing per
 * element and branches as little as possible: non-finite values are detected by a
 * running `v * 0` (0 for finite v, NaN for NaN/±Inf) and only counted, in a second
 * pass, on the failure path.
 */
export interface BatchExtrema {
  min: number;
  max: number;
  /** max |x| = max(-min, max). */
  absMax: number;
}

export function scanBatch(values: Float32Array): BatchExtrema {
  if (!(values instanceof Float32Array)) {
    throw new TypeError(`calibrator.collect expects a Float32Array, got ${describeValue(values)}`);
  }
  const n = values.length;
  let min = Infinity;
  let max = -Infinity;
  let probe = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    probe += v * 0;
  }
  if (probe !== 0) {
    throw new Error(
      `calibration data contains ${countNonFinite(values)} non-finite value(s) (NaN or ±Infinity) ` +
        `out of ${n}; a calibrator cannot choose a range from them`,
    );
  }
  if (n === 0) return { min: 0, max: 0, absMax: 0 };
  return { min, max, absMax: Math.max(-min, max) };
}

export function countNonFinite(values: Float32Array): number {
  let bad = 0;
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) bad++;
  return bad;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}
