import type { CalibratorOptions } from '@qdeploy/core';
import { AbsHistogram, DEFAULT_BINS } from './histogram.js';
import { HistogramCalibrator } from './histogram-calibrator.js';
import { maxBound, readOptions } from './options.js';

export interface MseOptions {
  /** Histogram bins. Default 2048. */
  bins?: number;
  /** First candidate, as a bin index (amax = that bin's center). Default 128. */
  startBin?: number;
  /** Step between candidates, in bins. Default 1. */
  stride?: number;
  /** Bit width of the symmetric quantizer simulated. Default 8. */
  nBits?: number;
}

/**
 * mse: the amax minimising the expected squared quantization error over the histogram,
 * as pytorch-quantization's `_compute_amax_mse`: candidates are the bin centers from
 * `startBin` up to the second-to-last bin (step `stride`); for each, every bin center c is
 * fake-quantized symmetrically to nBits (scale = (2^(nBits-1) - 1) / amax, round half to
 * even, clamp) and the error is Σ count · (c − q(c))². The first minimum wins.
 */
export class MseCalibrator extends HistogramCalibrator {
  readonly method = 'mse';
  readonly startBin: number;
  readonly stride: number;
  readonly nBits: number;

  constructor(options?: CalibratorOptions | MseOptions) {
    const o = readOptions('mse', options as CalibratorOptions | undefined, {
      bins: { kind: 'integer', min: 2 },
      startBin: { kind: 'integer', min: 0 },
      stride: { kind: 'integer', min: 1 },
      nBits: { kind: 'integer', min: 2, max: 16 },
    });
    const bins = o.bins ?? DEFAULT_BINS;
    super(bins);
    this.startBin = o.startBin ?? 128;
    this.stride = o.stride ?? 1;
    this.nBits = o.nBits ?? 8;
    if (this.startBin > bins - 2) {
      throw new Error(`mse calibrator: startBin (${this.startBin}) must be <= bins - 2 (${bins - 2})`);
    }
  }

  protected computeAmax(h: AbsHistogram): number {
    const k = mseBestBin(h.counts, this.startBin, this.stride, this.nBits);
    return (k + 0.5) * h.binWidth;
  }
}

/**
 * Index of the bin whose center, taken as amax, minimises the squared error. Works in
 * units of bin widths (center of bin j = j + 0.5), which scales every error by the same
 * factor and so does not move the minimum. Bins above the candidate are all clamped to
 * amax, so their error Σ n (c − amax)² comes from suffix sums in O(1); only bins at or
 * below it are rounded one by one (and only the non-zero ones).
 */
export function mseBestBin(counts: ArrayLike<number>, startBin: number, stride: number, nBits: number): number {
  const n = counts.length;
  const qmax = maxBound(nBits);
  // Non-zero bins, compacted: centers and counts.
  const idx = new Int32Array(n);
  let nz = 0;
  for (let j = 0; j < n; j++) if (counts[j]! > 0) idx[nz++] = j;
  // Suffix sums over bins j >= k of n, n·c, n·c².
  const sN = new Float64Array(n + 1);
  const sC = new Float64Array(n + 1);
  const sCC = new Float64Array(n + 1);
  for (let j = n - 1; j >= 0; j--) {
    const w = counts[j]!;
    const c = j + 0.5;
    sN[j] = sN[j + 1]! + w;
    sC[j] = sC[j + 1]! + w * c;
    sCC[j] = sCC[j + 1]! + w * c * c;
  }
  let best = Infinity;
  let bestBin = Math.max(0, Math.min(startBin, n - 1));
  let p = 0; // first non-zero bin above the candidate, in idx
  for (let i = startBin; i < n - 1; i += stride) {
    const amax = i + 0.5;
    const scale = qmax / amax;
    while (p < nz && idx[p]! <= i) p++;
    let err = 0;
    for (let q = 0; q < p; q++) {
      const j = idx[q]!;
      const c = j + 0.5;
      const d = c - roundHalfEven(c * scale) / scale;
      err += counts[j]! * d * d;
    }
    const clipped = sCC[i + 1]! - 2 * amax * sC[i + 1]! + amax * amax * sN[i + 1]!;
    if (clipped > 0) err += clipped;
    if (err < best) {
      best = err;
      bestBin = i;
    }
  }
  return bestBin;
}

/** Round half to even (torch.round / numpy.round), for non-negative x. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
