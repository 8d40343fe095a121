import { addBins, MAX_BINS } from './bin-counter.js';
import { scanBatch, type BatchExtrema } from './scan.js';

/**
 * A histogram of |x| with a fixed number of equal-width bins over [0, range], plus the
 * signed extrema and the number of values seen. Memory is bounded by `bins`, whatever
 * the number of batches: batches are folded in one at a time and never kept.
 *
 * Bin k covers [k·w, (k+1)·w) with w = range / bins; the last bin also holds |x| = range.
 *
 * Growing the range — the choice made here: the first batch with a non-zero value sets
 * `range` to its max |x| (as pytorch-quantization does), so the data spans all bins.
 * When a later batch exceeds the range, the range is **doubled** (as many times as
 * needed) and the old counts are re-binned by merging adjacent pairs (groups of 2^k
 * bins for k doublings). That re-binning is exact — every old bin lies inside exactly
 * one new bin, counts stay whole — and it costs O(bins) only when the range grows,
 * which happens O(log(max/first max)) times. (One boundary effect: a value exactly equal
 * to an old range sat in the old, closed, last bin and stays just below that edge.)
 * The price is resolution: after growth the
 * data may occupy as little as half of the bins (still >= 1024 of the default 2048).
 * pytorch-quantization instead keeps the bin width and appends bins, so its histogram
 * can grow without bound when a later batch is much wider than the first.
 *
 * Merging two histograms (e.g. calibration sharded over processes) keeps the grid of
 * the one with the larger range and re-bins the other into it proportionally (a bin
 * straddling two target bins is split by overlap length, assuming the values are spread
 * uniformly inside a bin). When the ranges are equal, or differ by a power of two, this
 * is exact; otherwise counts become fractional and the result is close to, not equal
 * to, what a single histogram over all the data would hold.
 */
export interface HistogramState {
  /** Number of bins. */
  bins: number;
  /** Upper edge of the last bin (0 while only zeros were seen). */
  range: number;
  /** Number of values observed. */
  count: number;
  /** Signed extrema of the values observed (0 when count is 0). */
  min: number;
  max: number;
  /** Per-bin counts, `bins` entries; may be fractional after a proportional merge. */
  counts: number[];
}

export const DEFAULT_BINS = 2048;

export class AbsHistogram {
  readonly bins: number;
  /** Per-bin counts. Read-only for callers; use collect/merge to change them. */
  readonly counts: Float64Array;
  /** One batch's counts: integer increments on a Uint32Array are ~2x faster than on float64. */
  private readonly scratch: Uint32Array;
  /** binBatch's results: min, max, non-finite probe, overflow flag. */
  private readonly extrema = new Float64Array(4);
  private _range = 0;
  private _count = 0;
  private _min = Infinity;
  private _max = -Infinity;

  constructor(bins: number = DEFAULT_BINS) {
    if (!Number.isInteger(bins) || bins < 1) throw new Error(`histogram: bins must be a positive integer, got ${bins}`);
    this.bins = bins;
    this.counts = new Float64Array(bins);
    this.scratch = new Uint32Array(bins);
  }

  get range(): number {
    return this._range;
  }
  /** Number of values observed. */
  get count(): number {
    return this._count;
  }
  get min(): number {
    return this._count > 0 ? this._min : 0;
  }
  get max(): number {
    return this._count > 0 ? this._max : 0;
  }
  /** max |x| observed. */
  get absMax(): number {
    return this._count > 0 ? Math.max(-this._min, this._max) : 0;
  }
  get binWidth(): number {
    return this._range / this.bins;
  }
  /** Edge k of the grid (edge 0 = 0, edge `bins` = range). */
  edge(k: number): number {
    return (k * this._range) / this.bins;
  }

  /**
   * Fold one batch in. The hot path of calibration: once the range is set, a single pass
   * bins the values and tracks extrema; a batch that exceeds the range (rare after the
   * first few) is binned again after the range grows, from the extrema that pass found.
   */
  collect(values: Float32Array): void {
    const n = values.length;
    let ext: BatchExtrema;
    if (this._range > 0 && values instanceof Float32Array && n > 0) {
      const r = this.binWithinRange(values);
      if (r === true) return;
      ext = r;
    } else {
      ext = scanBatch(values);
      if (n === 0) return;
    }
    this.growTo(ext.absMax);
    this.bin(values);
    this._count += n;
    if (ext.min < this._min) this._min = ext.min;
    if (ext.max > this._max) this._max = ext.max;
  }

  /**
   * Fold in one batch binned elsewhere (inside the onnxruntime graph: core's
   * `BinnedCollector`). `indices[i]` = floor(x_i · bins / range), the signed floor, so
   * the bin of |x_i| is v = indices[i] for v >= 0 and -v - 1 for v < 0, and the indices
   * lie in [-bins - 1, bins]: -bins for x_i in [-range, -range + w), bins only for
   * x_i = range and -bins - 1 only for x_i = -range when float32 rounding pushed it a bin
   * lower, all three in the last bin (w = range / bins). An index outside that breaks
   * the contract: the batch is refused (throws), the histogram left as it was.
   * `range` must be this histogram's range doubled k >= 0 times, or — while this one
   * is 0 — any range covering the batch (the graph gives the batch's max |x|, as
   * `collect` would set). Same result as `collect(values)`, up to the rounding of values
   * on a bin edge by whoever computed the indices (the graph may put one a bin lower).
   */
  collectBinned(indices: Int16Array, range: number, min: number, max: number): void {
    const n = indices.length;
    if (!(Number.isFinite(range) && range >= 0 && Number.isFinite(min) && Number.isFinite(max) && min <= max)) {
      throw new Error(`histogram: a binned batch needs a finite range >= 0 and finite min <= max, got range ${range}, min ${min}, max ${max}`);
    }
    if (Math.max(-min, max) > range) throw new Error(`histogram: a binned batch's max |x| (${Math.max(-min, max)}) exceeds its range (${range})`);
    if (this.bins > MAX_BINS) throw new Error(`histogram: int16 bin indices cover at most ${MAX_BINS} bins, this histogram has ${this.bins}`);
    if (n === 0) return;
    let r = this._range;
    if (range > 0 && r > 0) {
      while (r < range) r *= 2;
      if (r !== range) throw new Error(`histogram: a binned batch's range ${range} is not this histogram's range ${this._range} doubled`);
    } else if (range > 0) {
      r = range;
    }
    // Onto the grid of r first (a copy: the counts stay as they were if the batch is refused).
    let counts = this.counts;
    if (r !== this._range && this._range > 0) {
      counts = Float64Array.from(counts);
      rebinInPlace(counts, this._range / r);
    }
    const seen = addBins(indices, this.bins, counts);
    if (seen !== n) throw new Error(`histogram: ${n - seen} of ${n} bin indices are outside [-${this.bins + 1}, ${this.bins}]`);
    if (counts !== this.counts) this.counts.set(counts);
    this._range = r;
    this._count += n;
    if (min < this._min) this._min = min;
    if (max > this._max) this._max = max;
  }

  /**
   * One pass: bin at the current range and track extrema. Returns true when done, else
   * (some value beyond the range) the batch's extrema, with the counts untouched.
   * Non-finite values throw.
   */
  private binWithinRange(values: Float32Array): true | BatchExtrema {
    const scratch = this.scratch;
    scratch.fill(0);
    const ext = binBatch(values, scratch, this.bins / this._range, this.bins, this.extrema);
    if (ext[2] !== 0) scanBatch(values); // throws, counting the non-finite values
    const min = ext[0]!;
    const max = ext[1]!;
    if (ext[3] !== 0) return { min, max, absMax: Math.max(-min, max) };
    this.addScratch();
    this._count += values.length;
    if (min < this._min) this._min = min;
    if (max > this._max) this._max = max;
    return true;
  }

  /** Adds a batch's values at the current range. */
  private bin(values: Float32Array): void {
    const n = values.length;
    if (this._range === 0) {
      // Only zeros so far: they all belong to bin 0, whatever the range becomes.
      this.counts[0]! += n;
      return;
    }
    // The range covers the batch here, so binBatch's overflow flag is never set.
    this.scratch.fill(0);
    binBatch(values, this.scratch, this.bins / this._range, this.bins, this.extrema);
    this.addScratch();
  }

  private addScratch(): void {
    const counts = this.counts;
    const scratch = this.scratch;
    for (let k = 0; k < this.bins; k++) counts[k]! += scratch[k]!;
  }

  /** Make the range cover `absMax`: set it on first use, else double it until it fits. */
  private growTo(absMax: number): void {
    if (absMax <= this._range) return;
    if (this._range === 0) {
      this._range = absMax;
      return;
    }
    let r = this._range;
    while (r < absMax) r *= 2;
    rebinInPlace(this.counts, this._range / r);
    this._range = r;
  }

  /** Fold another histogram (same number of bins) into this one. */
  merge(other: AbsHistogram): void {
    if (other.bins !== this.bins) {
      throw new Error(`histogram: cannot merge a ${other.bins}-bin histogram into a ${this.bins}-bin one`);
    }
    if (other._count === 0) return;
    if (other._range > this._range) {
      if (this._range > 0) rebinInPlace(this.counts, this._range / other._range);
      this._range = other._range;
      const c = this.counts;
      for (let k = 0; k < this.bins; k++) c[k]! += other.counts[k]!;
    } else {
      const incoming = Float64Array.from(other.counts);
      if (other._range > 0 && other._range < this._range) rebinInPlace(incoming, other._range / this._range);
      const c = this.counts;
      for (let k = 0; k < this.bins; k++) c[k]! += incoming[k]!;
    }
    this._count += other._count;
    if (other._min < this._min) this._min = other._min;
    if (other._max > this._max) this._max = other._max;
  }

  /** JSON-safe snapshot (plain numbers). */
  toState(): HistogramState {
    return {
      bins: this.bins,
      range: this._range,
      count: this._count,
      min: this.min,
      max: this.max,
      counts: Array.from(this.counts),
    };
  }

  /** Rebuild a histogram from `toState()` output, validating it (it may come from a file). */
  static fromState(state: unknown, where = 'histogram state'): AbsHistogram {
    if (typeof state !== 'object' || state === null) throw new Error(`${where}: expected an object`);
    const s = state as Record<string, unknown>;
    const num = (key: string): number => {
      const v = s[key];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}: "${key}" must be a finite number`);
      return v;
    };
    const bins = num('bins');
    if (!Number.isInteger(bins) || bins < 1) throw new Error(`${where}: "bins" must be a positive integer`);
    const range = num('range');
    const count = num('count');
    const min = num('min');
    const max = num('max');
    if (range < 0 || count < 0) throw new Error(`${where}: "range" and "count" must be >= 0`);
    const counts = s['counts'];
    if (!Array.isArray(counts) || counts.length !== bins) {
      throw new Error(`${where}: "counts" must be an array of ${bins} numbers`);
    }
    const h = new AbsHistogram(bins);
    for (let k = 0; k < bins; k++) {
      const c: unknown = counts[k];
      if (typeof c !== 'number' || !Number.isFinite(c) || c < 0) {
        throw new Error(`${where}: counts[${k}] must be a finite number >= 0`);
      }
      h.counts[k] = c;
    }
    if (count > 0) {
      if (min > max) throw new Error(`${where}: min (${min}) > max (${max})`);
      if (Math.max(-min, max) > range) throw new Error(`${where}: max |x| (${Math.max(-min, max)}) exceeds range (${range})`);
      h._min = min;
      h._max = max;
    }
    h._range = range;
    h._count = count;
    return h;
  }
}

/**
 * Re-bin `counts` in place onto a grid `1 / ratio` times wider (0 < ratio <= 1): old bin
 * b covers [b·ratio, (b+1)·ratio) in units of new bins, and its count is split between
 * the (at most two) new bins it overlaps, in proportion to the overlap. Exact (no
 * splitting) when 1/ratio is a power of two. Works in place because an old bin only
 * ever moves to new bins with an index <= its own.
 */
export function rebinInPlace(counts: Float64Array, ratio: number): void {
  if (!(ratio > 0 && ratio <= 1)) throw new Error(`rebin: ratio must be in (0, 1], got ${ratio}`);
  if (ratio === 1) return;
  const n = counts.length;
  const last = n - 1;
  for (let b = 0; b < n; b++) {
    const c = counts[b]!;
    if (c === 0) continue;
    counts[b] = 0;
    const lo = b * ratio;
    const hi = lo + ratio;
    const t0 = Math.min(Math.floor(lo), last);
    if (hi <= t0 + 1 || t0 === last) {
      counts[t0]! += c;
    } else {
      const inFirst = (t0 + 1 - lo) / ratio;
      counts[t0]! += c * inFirst;
      counts[t0 + 1]! += c * (1 - inFirst);
    }
  }
}

/**
 * The hot loop of histogram calibration, kept a small module-level function: V8 compiles
 * it to tight machine code (as a method with the surrounding bookkeeping it was ~3x
 * slower on real activations). Bins |values| at `scale` into `scratch`, and writes
 * [min, max, NaN probe (≠ 0 if any value is NaN/±Inf), 1 if a value fell beyond the
 * last bin] into `out`.
 */
function binBatch(values: Float32Array, scratch: Uint32Array, scale: number, bins: number, out: Float64Array): Float64Array {
  const last = bins - 1;
  const n = values.length;
  let min = Infinity;
  let max = -Infinity;
  let probe = 0;
  let over = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    probe += v * 0; // NaN for NaN/±Inf, 0 otherwise
    // Math.abs, not a `v < 0` branch: branchless. Compare as a float: `| 0` wraps huge values.
    const f = Math.abs(v) * scale;
    let k = f | 0;
    if (f > last) {
      k = last;
      if (f >= bins) over = 1;
    }
    scratch[k]!++;
  }
  out[0] = min;
  out[1] = max;
  out[2] = probe;
  out[3] = over;
  return out;
}
