import type { CalibratorState } from '../calibrate/calibrator.js';
import { resolveCalibratorFactory } from '../plugins/container.js';

/** One stub's |x| histogram and the amax each calibration method would read off it. */
export interface StubHistogram {
  tensor: string;
  /** Bin counts over [0, range], merged down to at most 128 bars. */
  counts: number[];
  range: number;
  /** amax by method (minmax, percentile, entropy, mse: those registered). */
  amax: Record<string, number>;
  /** The amax the stub was calibrated with. */
  chosen?: number;
}

const HISTOGRAM_METHODS = ['percentile', 'entropy', 'mse'];

interface HistogramLike {
  counts: number[];
  range: number;
  min: number;
  max: number;
}

function isHistogram(s: CalibratorState): s is CalibratorState & HistogramLike {
  return Array.isArray(s.counts) && typeof s.range === 'number';
}

/**
 * For each histogram state (a histogram method's calibration states), the amax every
 * registered histogram method picks from the same counts, plus minmax's (the largest |x|).
 */
export function stubHistograms(states: Record<string, CalibratorState>, chosen: Record<string, number> = {}): StubHistogram[] {
  const out: StubHistogram[] = [];
  for (const [tensor, state] of Object.entries(states)) {
    if (!isHistogram(state)) continue;
    const amax: Record<string, number> = { minmax: Math.max(-state.min, state.max) };
    for (const method of HISTOGRAM_METHODS) {
      try {
        const c = resolveCalibratorFactory(method)();
        c.merge({ ...state, method });
        amax[method] = c.compute().amax;
      } catch {
        // method not registered (no @qdeploy/calibrators) or a state it cannot read: left out
      }
    }
    const bars = Math.min(128, state.counts.length);
    const per = Math.ceil(state.counts.length / bars);
    const counts: number[] = [];
    for (let i = 0; i < state.counts.length; i += per) counts.push(state.counts.slice(i, i + per).reduce((a, b) => a + b, 0));
    const h: StubHistogram = { tensor, counts, range: state.range, amax };
    if (chosen[tensor] !== undefined) h.chosen = chosen[tensor];
    out.push(h);
  }
  return out;
}

/** True when calibration states hold histograms (the histogram methods'), else the report needs a histogram pass. */
export function hasHistograms(states: Record<string, CalibratorState>): boolean {
  return Object.values(states).some(isHistogram);
}
