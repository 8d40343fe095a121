import type { CalibratorOptions } from '@qdeploy/core';
import { AbsHistogram, DEFAULT_BINS } from './histogram.js';
import { HistogramCalibrator } from './histogram-calibrator.js';
import { readOptions } from './options.js';

export interface EntropyOptions {
  /** Histogram bins. Default 2048. */
  bins?: number;
  /** Quantized levels P is compared against. Default 2^(nBits-1) = 128. */
  levels?: number;
  /** Smallest candidate cut, in bins. Default 128. */
  startBin?: number;
  /** Step between candidate cuts, in bins. Default 1. */
  stride?: number;
  /** Bit width; sets `levels` = 2^(nBits-1) when `levels` is not given. Default 8. */
  nBits?: number;
}

/**
 * entropy: the KL-divergence calibration of TensorRT's IInt8EntropyCalibrator2 and of
 * NVIDIA pytorch-quantization (`_compute_amax_entropy`), on the |x| histogram.
 *
 * For each candidate cut i (startBin..bins, step stride):
 *   - h = the histogram with h[0] replaced by h[1] (as pytorch-quantization does: the
 *     zero bin, huge after ReLU, would otherwise dominate the comparison);
 *   - P = h[0..i-1], with all the mass beyond the cut folded into P[i-1];
 *   - Q = h[0..i-1] merged into `levels` equal groups of bins (bin j goes to level
 *     floor(j·levels/i)), then expanded back: each level's mass spread evenly over its
 *     bins that are non-zero in h; bins that are zero in h stay zero in Q;
 *   - KL(P‖Q) with P and Q each normalised to sum 1 (scipy.stats.entropy); a bin with
 *     P > 0 and Q = 0 (the last bin is empty but mass beyond the cut was folded into it)
 *     makes the divergence infinite.
 * amax = the upper edge of the cut with the smallest divergence (the largest such cut
 * on a tie, as pytorch-quantization does).
 */
export class EntropyCalibrator extends HistogramCalibrator {
  readonly method = 'entropy';
  readonly levels: number;
  readonly startBin: number;
  readonly stride: number;

  constructor(options?: CalibratorOptions | EntropyOptions) {
    const o = readOptions('entropy', options as CalibratorOptions | undefined, {
      bins: { kind: 'integer', min: 2 },
      levels: { kind: 'integer', min: 1 },
      startBin: { kind: 'integer', min: 1 },
      stride: { kind: 'integer', min: 1 },
      nBits: { kind: 'integer', min: 2, max: 16 },
    });
    const bins = o.bins ?? DEFAULT_BINS;
    super(bins);
    const fromBits = 2 ** ((o.nBits ?? 8) - 1);
    if (o.levels !== undefined && o.nBits !== undefined && o.levels !== fromBits) {
      throw new Error(`entropy calibrator: levels ${o.levels} contradicts nBits ${o.nBits} (2^(nBits-1) = ${fromBits}); give one of them`);
    }
    this.levels = o.levels ?? fromBits;
    this.startBin = o.startBin ?? 128;
    this.stride = o.stride ?? 1;
    if (this.startBin > bins) {
      throw new Error(`entropy calibrator: startBin (${this.startBin}) must be <= bins (${bins})`);
    }
  }

  protected computeAmax(h: AbsHistogram): number {
    return h.edge(entropyCutBin(h.counts, this.levels, this.startBin, this.stride));
  }
}

/**
 * The KL sweep: returns the best cut i (number of bins kept; amax = edge i).
 *
 * Cost is O(bins + candidates × levels), not O(candidates × bins): with prefix sums of
 * h, of h·ln h and of the count of non-zero bins, each level's contribution to
 *   Σ_j P_j ln(P_j / Q_j) = Σ_level [ Σ_{j∈level} h_j ln h_j − S ln(S / m) ]
 * (S = the level's mass, m = its non-zero bins, so Q_j = S/m on them) is O(1). Then
 *   KL = (1/T) Σ_j P_j ln(P_j/Q_j) + ln(Z/T)
 * with T = Σ P (all the mass) and Z = Σ Q (the mass of the first i bins). Only the level
 * holding bin i-1 needs the folded tail.
 */
export function entropyCutBin(counts: ArrayLike<number>, levels: number, startBin: number, stride: number): number {
  const n = counts.length;
  const C = new Float64Array(n + 1); // prefix sums of h
  const HL = new Float64Array(n + 1); // prefix sums of h ln h
  const NZ = new Int32Array(n + 1); // prefix counts of non-zero bins
  const tail = new Float64Array(n + 1); // suffix sums of h (summed from the end: no cancellation)
  const h = new Float64Array(n);
  for (let j = 0; j < n; j++) h[j] = counts[j]!;
  if (n > 1) h[0] = h[1]!;
  for (let j = 0; j < n; j++) {
    const v = h[j]!;
    C[j + 1] = C[j]! + v;
    HL[j + 1] = HL[j]! + (v > 0 ? v * Math.log(v) : 0);
    NZ[j + 1] = NZ[j]! + (v > 0 ? 1 : 0);
  }
  for (let j = n - 1; j >= 0; j--) tail[j] = tail[j + 1]! + h[j]!;
  const T = C[n]!;
  if (!(T > 0)) return n;

  let best = Infinity;
  let bestCut = n;
  for (let i = startBin; i <= n; i += stride) {
    const beyond = tail[i]!;
    const hLast = h[i - 1]!;
    if (beyond > 0 && hLast === 0) continue; // P[i-1] > 0 = Q[i-1]: infinite divergence
    let sum = 0;
    for (let k = 0; k < levels; k++) {
      const lo = Math.ceil((k * i) / levels);
      const hi = k === levels - 1 ? i : Math.ceil(((k + 1) * i) / levels);
      if (lo >= hi) continue;
      const m = NZ[hi]! - NZ[lo]!;
      if (m === 0) continue;
      const S = C[hi]! - C[lo]!;
      if (hi === i && beyond > 0) {
        const pLast = hLast + beyond;
        sum += HL[hi - 1]! - HL[lo]! + pLast * Math.log(pLast) - (S + beyond) * Math.log(S / m);
      } else {
        sum += HL[hi]! - HL[lo]! - S * Math.log(S / m);
      }
    }
    const kl = sum / T + Math.log(C[i]! / T);
    if (kl <= best) {
      best = kl;
      bestCut = i;
    }
  }
  return bestCut;
}
