import type { BinnedCollector, CalibrationRange, Calibrator, CalibratorState } from '@qdeploy/core';
import { AbsHistogram } from './histogram.js';
import { STATE_VERSION, checkState } from './state.js';

/**
 * Shared plumbing of the histogram methods (percentile, entropy, mse): they all collect
 * the same |x| histogram and differ only in how they read amax from it.
 */
export abstract class HistogramCalibrator implements Calibrator {
  abstract readonly method: string;
  protected readonly hist: AbsHistogram;

  protected constructor(bins: number) {
    this.hist = new AbsHistogram(bins);
  }

  /** The histogram collected so far (for inspection; do not mutate). */
  get histogram(): AbsHistogram {
    return this.hist;
  }

  collect(values: Float32Array): void {
    this.hist.collect(values);
  }

  /** Calibration bins |x| inside the graph and hands this histogram the bin indices. */
  get binned(): BinnedCollector {
    return this.hist;
  }

  /**
   * amax from the histogram, clipped to the largest |x| actually seen (the grid can
   * extend up to 2x beyond it after growth). An all-zero tensor gives amax 0.
   */
  compute(): CalibrationRange {
    const h = this.hist;
    if (h.count === 0) {
      throw new Error(`${this.method} calibrator: compute() called before any values were collected`);
    }
    const absMax = h.absMax;
    if (absMax === 0) return { amax: 0, min: 0, max: 0 };
    let amax = this.computeAmax(h);
    if (!Number.isFinite(amax) || amax <= 0) amax = absMax;
    amax = Math.min(amax, absMax);
    return {
      amax,
      min: Math.max(Math.min(0, h.min), -amax),
      max: Math.min(Math.max(0, h.max), amax),
    };
  }

  /** Read amax off a histogram that holds at least one non-zero value. */
  protected abstract computeAmax(h: AbsHistogram): number;

  state(): CalibratorState {
    return { method: this.method, version: STATE_VERSION, ...this.hist.toState() };
  }

  merge(state: CalibratorState): void {
    checkState(state, this.method);
    const other = AbsHistogram.fromState(state, `${this.method} calibrator state`);
    if (other.bins !== this.hist.bins) {
      throw new Error(
        `${this.method} calibrator: cannot merge a state with ${other.bins} bins into one with ${this.hist.bins} bins`,
      );
    }
    this.hist.merge(other);
  }
}
