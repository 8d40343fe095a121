import type { CalibrationRange, Calibrator, CalibratorOptions, CalibratorState } from '@qdeploy/core';
import { readOptions } from './options.js';
import { scanBatch } from './scan.js';
import { STATE_VERSION, checkState } from './state.js';

/**
 * minmax: the running max |x| (symmetric range) and the running min/max (asymmetric
 * range). One pass per batch, O(1) state. Exact, but a single outlier sets the range.
 * Takes no options.
 */
export class MinMaxCalibrator implements Calibrator {
  readonly method = 'minmax';
  private count = 0;
  private min = Infinity;
  private max = -Infinity;

  constructor(options?: CalibratorOptions) {
    readOptions('minmax', options, {});
  }

  collect(values: Float32Array): void {
    const ext = scanBatch(values);
    if (values.length === 0) return;
    this.count += values.length;
    if (ext.min < this.min) this.min = ext.min;
    if (ext.max > this.max) this.max = ext.max;
  }

  collectExtrema(min: number, max: number, count: number): void {
    if (!Number.isFinite(min) || !Number.isFinite(max)) {
      throw new Error(`calibration data contains non-finite values (batch extrema ${min}, ${max}); a calibrator cannot choose a range from them`);
    }
    if (count === 0) return;
    this.count += count;
    if (min < this.min) this.min = min;
    if (max > this.max) this.max = max;
  }

  compute(): CalibrationRange {
    if (this.count === 0) throw new Error('minmax calibrator: compute() called before any values were collected');
    return {
      amax: Math.max(-this.min, this.max, 0),
      min: Math.min(0, this.min),
      max: Math.max(0, this.max),
    };
  }

  state(): CalibratorState {
    const seen = this.count > 0;
    return {
      method: this.method,
      version: STATE_VERSION,
      count: this.count,
      min: seen ? this.min : 0,
      max: seen ? this.max : 0,
    };
  }

  merge(state: CalibratorState): void {
    const s = checkState(state, this.method);
    const count = s['count'];
    const min = s['min'];
    const max = s['max'];
    if (
      typeof count !== 'number' || !Number.isInteger(count) || count < 0 ||
      typeof min !== 'number' || !Number.isFinite(min) ||
      typeof max !== 'number' || !Number.isFinite(max) ||
      (count > 0 && min > max)
    ) {
      throw new Error('minmax calibrator state: expected { count: integer >= 0, min <= max: finite numbers }');
    }
    if (count === 0) return;
    this.count += count;
    if (min < this.min) this.min = min;
    if (max > this.max) this.max = max;
  }
}
