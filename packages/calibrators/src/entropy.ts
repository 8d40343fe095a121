import type { CalibratorOptions } from '@qdeploy/core';
import { AbsHistogram, DEFAULT_BINS } from './histogram.js';
import { HistogramCalibrator } from './histogram-calibrator.js';
import { checkIntegers, readOptions } from './options.js';
import { plainEntropyCutBin } from './plain-sweeps.js';
import { wasmSweeps } from './wasm-sweeps.js';

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
 * The best cut i of the entropy method (bins kept; amax = edge i): the cut with the
 * smallest KL divergence, the larger cut on a tie, over cuts startBin, startBin + stride,
 * ... <= counts.length; counts.length when every count is 0. Computed by the WebAssembly
 * sweep (../assembly/sweeps.ts: ~0.5 ms for 2048 bins, from the first call), which returns
 * exactly the cut of the plain sweep (plain-sweeps.ts) evaluating only the cuts that can
 * win; by the plain sweep where WebAssembly is not available.
 */
export function entropyCutBin(counts: ArrayLike<number>, levels: number, startBin: number, stride: number): number {
  checkIntegers('entropyCutBin', { levels: [levels, 1], startBin: [startBin, 1], stride: [stride, 1] });
  return wasmSweeps()?.entropyCutBin(counts, levels, startBin, stride) ?? plainEntropyCutBin(counts, levels, startBin, stride);
}
