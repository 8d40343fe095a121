import type { CalibratorOptions } from '@qdeploy/core';
import { AbsHistogram, DEFAULT_BINS } from './histogram.js';
import { HistogramCalibrator } from './histogram-calibrator.js';
import { readOptions } from './options.js';

export interface PercentileOptions {
  /** Fraction of |x| to keep inside the range, in percent, in (0, 100]. Default 99.99. */
  percentile?: number;
  /** Histogram bins. Default 2048. */
  bins?: number;
}

export const DEFAULT_PERCENTILE = 99.99;

/**
 * percentile: amax = the histogram edge at which the cumulative count of |x| first
 * reaches p% of all values, i.e. the upper edge of the bin where the CDF crosses p.
 * (pytorch-quantization returns that bin's lower edge; the upper edge is the smallest
 * edge that really keeps p% inside, so it clips at most (100 - p)%.)
 */
export class PercentileCalibrator extends HistogramCalibrator {
  readonly method = 'percentile';
  readonly percentile: number;

  constructor(options?: CalibratorOptions | PercentileOptions) {
    const o = readOptions('percentile', options as CalibratorOptions | undefined, {
      percentile: { kind: 'number', min: 0, exclusiveMin: true, max: 100 },
      bins: { kind: 'integer', min: 1 },
    });
    super(o.bins ?? DEFAULT_BINS);
    this.percentile = o.percentile ?? DEFAULT_PERCENTILE;
  }

  protected computeAmax(h: AbsHistogram): number {
    return h.edge(percentileCutBin(h.counts, this.percentile));
  }
}

/**
 * Number of bins to keep (1..bins) so that the kept bins hold at least p% of the total:
 * the cut is the upper edge of the bin where the cumulative count first reaches p%.
 */
export function percentileCutBin(counts: ArrayLike<number>, percentile: number): number {
  const n = counts.length;
  let total = 0;
  for (let k = 0; k < n; k++) total += counts[k]!;
  const target = (percentile / 100) * total;
  let cum = 0;
  // Summed in the same order as `total`, so p = 100 reaches it exactly.
  for (let k = 0; k < n; k++) {
    cum += counts[k]!;
    if (cum >= target) return k + 1;
  }
  return n;
}
