import { describe, expect, it } from 'vitest';
import { AbsHistogram, EntropyCalibrator, rebinInPlace, percentileCutBin } from '../src/index.js';
import { absQuantile, boundedGaussian, directHistogram, gaussian, maxAbs } from './helpers.js';

const sum = (a: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s;
};

describe('AbsHistogram', () => {
  it('grows for a value 2^31 bins beyond the range instead of wrapping it into a low bin', () => {
    const h = new AbsHistogram(2048);
    h.collect(new Float32Array([1, -0.5]));
    h.collect(new Float32Array([0.25, 3e7]));
    expect(h.range).toBeGreaterThanOrEqual(3e7);
    expect(h.count).toBe(4);
    expect(h.counts[Math.floor((3e7 * 2048) / h.range)]).toBe(1);
    // A batch that fits is binned in one pass; one with NaN leaves the counts as they were.
    const before = Array.from(h.counts);
    expect(() => h.collect(new Float32Array([1, NaN]))).toThrow(/non-finite/);
    expect(Array.from(h.counts)).toEqual(before);
  });

  it('bins |x| over [0, first max], tracks min/max/count', () => {
    const h = new AbsHistogram(4);
    h.collect(new Float32Array([-2, -0.5, 0, 0.25, 1, 1.5, 2]));
    expect(h.range).toBe(2);
    expect(h.count).toBe(7);
    expect(h.min).toBe(-2);
    expect(h.max).toBe(2);
    expect(h.absMax).toBe(2);
    // bins of width 0.5: [0,.5) {0,.25} [.5,1) {.5} [1,1.5) {1} [1.5,2] {1.5,2,2}
    expect(Array.from(h.counts)).toEqual([2, 1, 1, 3]);
  });

  it('grows by doubling and re-bins old counts exactly (same as binning everything on the final grid)', () => {
    const small = boundedGaussian(10_000, 1, 0.3, 1);
    small[0] = 1; // first range: exactly 1
    const big = boundedGaussian(10_000, 2, 1, 3.5);
    big[0] = -3.5; // range must double 1 -> 2 -> 4
    const h = new AbsHistogram(2048);
    h.collect(small);
    expect(h.range).toBe(1);
    h.collect(big);
    expect(h.range).toBe(4);
    expect(h.count).toBe(20_000);
    expect(sum(h.counts)).toBe(20_000);
    const all = new Float32Array([...small, ...big]);
    expect(Array.from(h.counts)).toEqual(directHistogram(all, 2048, 4, [1]));
    expect(h.min).toBe(-3.5);
    expect(h.absMax).toBe(3.5);
  });

  it('keeps percentiles right within a bin width while the range grows batch by batch', () => {
    // Five batches, each twice as wide as the last: the range grows four times.
    const parts = [0.1, 0.2, 0.4, 0.8, 1.6].map((s, i) => gaussian(200_000, 10 + i, s));
    const h = new AbsHistogram(2048);
    for (const p of parts) h.collect(p);
    const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) (all.set(p, o), (o += p.length));
    expect(h.count).toBe(all.length);
    expect(sum(h.counts)).toBe(all.length);
    expect(h.range).toBeGreaterThanOrEqual(maxAbs(all));
    expect(h.range).toBeLessThan(2 * maxAbs(all));
    for (const q of [0.5, 0.9, 0.99, 0.999]) {
      const got = h.edge(percentileCutBin(h.counts, q * 100));
      expect(Math.abs(got - absQuantile(all, q))).toBeLessThanOrEqual(h.binWidth);
    }
  });

  it('handles batches of zeros before the first non-zero batch', () => {
    const h = new AbsHistogram(8);
    h.collect(new Float32Array(5));
    expect(h.range).toBe(0);
    expect(h.absMax).toBe(0);
    h.collect(new Float32Array([0.5, -4]));
    expect(h.range).toBe(4);
    expect(Array.from(h.counts)).toEqual([5, 1, 0, 0, 0, 0, 0, 1]);
    expect(h.count).toBe(7);
  });

  it('ignores empty batches', () => {
    const h = new AbsHistogram(8);
    h.collect(new Float32Array(0));
    expect(h.count).toBe(0);
    expect(h.range).toBe(0);
  });

  it('rejects NaN/Infinity with the number of bad values, and keeps its state', () => {
    const h = new AbsHistogram(8);
    h.collect(new Float32Array([1, 2]));
    const bad = new Float32Array([1, NaN, Infinity, -Infinity, 3]);
    expect(() => h.collect(bad)).toThrow(/3 non-finite value\(s\)/);
    expect(h.count).toBe(2);
    expect(h.range).toBe(2);
    expect(() => h.collect(new Float32Array([NaN]))).toThrow(/1 non-finite/);
  });

  it('serialises to plain JSON and back', () => {
    const h = new AbsHistogram(16);
    h.collect(gaussian(1000, 3));
    const s = JSON.parse(JSON.stringify(h.toState()));
    expect(Array.isArray(s.counts)).toBe(true);
    const back = AbsHistogram.fromState(s);
    expect(Array.from(back.counts)).toEqual(Array.from(h.counts));
    expect([back.range, back.count, back.min, back.max]).toEqual([h.range, h.count, h.min, h.max]);
  });

  it('rejects malformed states', () => {
    const good = (() => {
      const h = new AbsHistogram(4);
      h.collect(new Float32Array([1, -2]));
      return h.toState();
    })();
    expect(() => AbsHistogram.fromState({ ...good, counts: [1, 2] })).toThrow(/array of 4/);
    expect(() => AbsHistogram.fromState({ ...good, counts: [1, -1, 0, 0] })).toThrow(/counts\[1\]/);
    expect(() => AbsHistogram.fromState({ ...good, range: 1 })).toThrow(/exceeds range/);
    expect(() => AbsHistogram.fromState({ ...good, range: 'x' })).toThrow(/range/);
    expect(() => AbsHistogram.fromState(null)).toThrow(/object/);
  });

  it('merges histograms with equal ranges exactly', () => {
    const x = gaussian(20_000, 4);
    x[0] = 5;
    x[10_000] = -5;
    const [a, b] = [new AbsHistogram(), new AbsHistogram()];
    a.collect(x.subarray(0, 10_000));
    b.collect(x.subarray(10_000));
    const whole = new AbsHistogram();
    whole.collect(x);
    a.merge(b);
    expect(Array.from(a.counts)).toEqual(Array.from(whole.counts));
    expect([a.range, a.count, a.min, a.max]).toEqual([whole.range, whole.count, whole.min, whole.max]);
  });

  it('merges into the wider grid, in either direction; exact for power-of-two range ratios', () => {
    const x = boundedGaussian(10_000, 5, 0.5, 1);
    x[0] = 1;
    const y = boundedGaussian(10_000, 6, 3, 8);
    y[0] = 8;
    const all = new Float32Array([...x, ...y]);
    for (const order of ['small-into-big', 'big-into-small']) {
      const [hx, hy] = [new AbsHistogram(), new AbsHistogram()];
      hx.collect(x);
      hy.collect(y);
      const merged = order === 'small-into-big' ? (hy.merge(hx), hy) : (hx.merge(hy), hx);
      expect(merged.range).toBe(8);
      expect(Array.from(merged.counts)).toEqual(directHistogram(all, 2048, 8, [1]));
      expect(merged.min).toBe(Math.min(...all));
    }
  });

  it('merges non-power-of-two ranges proportionally: total conserved, percentiles within a bin', () => {
    const x = gaussian(100_000, 7, 1);
    const y = gaussian(100_000, 8, 1.7);
    const [hx, hy] = [new AbsHistogram(), new AbsHistogram()];
    hx.collect(x);
    hy.collect(y);
    expect(hy.range / hx.range).not.toBeCloseTo(Math.round(hy.range / hx.range), 3);
    hx.merge(hy);
    expect(hx.range).toBe(hy.range);
    expect(sum(hx.counts)).toBeCloseTo(200_000, 6);
    const all = new Float32Array([...x, ...y]);
    for (const q of [0.5, 0.99, 0.9999]) {
      const got = hx.edge(percentileCutBin(hx.counts, q * 100));
      expect(Math.abs(got - absQuantile(all, q))).toBeLessThanOrEqual(hx.binWidth);
    }
  });

  it('refuses to merge histograms with different bin counts', () => {
    const a = new AbsHistogram(8);
    const b = new AbsHistogram(16);
    b.collect(new Float32Array([1]));
    expect(() => a.merge(b)).toThrow(/16-bin/);
  });
});

describe('rebinInPlace', () => {
  it('merges groups of 2^k bins exactly', () => {
    const c = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    rebinInPlace(c, 0.25);
    expect(Array.from(c)).toEqual([10, 26, 0, 0, 0, 0, 0, 0]);
  });
  it('splits straddling bins by overlap', () => {
    const c = Float64Array.from([3, 3, 3, 0]);
    rebinInPlace(c, 2 / 3); // old bins [0,2/3) [2/3,4/3) [4/3,2) in new-bin units
    expect(Array.from(c).map((v) => +v.toFixed(12))).toEqual([4.5, 4.5, 0, 0]);
  });
  it('rejects ratios outside (0, 1]', () => {
    expect(() => rebinInPlace(new Float64Array(2), 2)).toThrow();
    expect(() => rebinInPlace(new Float64Array(2), 0)).toThrow();
  });
});

/** The batch's signed extrema, and R: the range doubled until it covers them (or their max |x| on first use). */
function batchRange(h: AbsHistogram, x: Float32Array): [number, number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (const v of x) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const absMax = Math.max(-min, max);
  let R = h.range > 0 ? h.range : absMax;
  while (R < absMax) R *= 2;
  return [R, min, max];
}

/** Round half to even, as QuantizeLinear does. */
function roundHalfEven(y: number): number {
  const f = Math.floor(y);
  const d = y - f;
  return d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
}

/**
 * What core's observation graph hands collectBinned, computed the same way in float32:
 * QuantizeLinear(x − w/2, w) with w = R / bins, i.e. the floor of x / w, but for values
 * on (or within float32 rounding of) a bin edge, which may land one bin lower.
 */
function graphBins(h: AbsHistogram, x: Float32Array): [Int16Array, number, number, number] {
  const [R, min, max] = batchRange(h, x);
  const w = Math.fround((R > 0 ? R : 1) / h.bins);
  const half = Math.fround(w / 2);
  const q = (v: number): number => roundHalfEven(Math.fround(Math.fround(v - half) / w));
  return [Int16Array.from(x, q), R, min, max];
}

/** The exact signed floor indices floor(x · bins / R) of a batch. */
function floorBins(h: AbsHistogram, x: Float32Array): [Int16Array, number, number, number] {
  const [R, min, max] = batchRange(h, x);
  return [Int16Array.from(x, (v) => Math.floor((v * h.bins) / (R > 0 ? R : 1))), R, min, max];
}

/**
 * `x` without the values within 1e-3 bin widths of an edge of the grid of `range` (but
 * edge 0, and ±range): on such an edge the floor index of a negative value is a bin lower.
 */
function offEdges(x: Float32Array, bins: number, range: number): Float32Array {
  return x.filter((v) => {
    const t = (Math.abs(v) * bins) / range;
    const k = Math.round(t);
    return k === 0 || Math.abs(v) === range || Math.abs(t - k) > 1e-3;
  });
}

describe('AbsHistogram.collectBinned', () => {
  it('takes signed floor indices: v -> bin v, -v - 1 for v < 0; bins, -bins and -bins - 1 in the last bin', () => {
    const h = new AbsHistogram(8);
    h.collectBinned(Int16Array.from([0, -1, 1, -2, 2, 7, -7, -8, 8, 3, -4, -9]), 4, -4, 4);
    // bins:                        0   0  1   1  2  7   6   7  7  3   3   7
    expect(Array.from(h.counts)).toEqual([2, 2, 1, 2, 0, 0, 1, 4]);
    expect(h.count).toBe(12);
  });

  it('counts like collect() and grows by doubling', () => {
    const a = new AbsHistogram(8);
    const b = new AbsHistogram(8);
    // range 4, w = 0.5: floor(2x) = 0, 0, -1, 3, -4, 7, -8, 8, -8 -> bins 0, 0, 0, 3, 3, 7, 7, 7, 7
    const x1 = new Float32Array([0, 0.3, -0.2, 1.7, -1.7, 3.99, -3.99, 4, -4]);
    a.collect(x1);
    b.collectBinned(Int16Array.from(x1, (v) => Math.floor((v * 8) / 4)), 4, -4, 4);
    expect(Array.from(b.counts)).toEqual([3, 0, 0, 2, 0, 0, 0, 4]);
    expect(Array.from(b.counts)).toEqual(Array.from(a.counts));
    // range 16, w = 2: floor(x / 2) = 5, -1, -8 -> bins 5, 0, 7
    const x2 = new Float32Array([10, -0.25, -16]);
    a.collect(x2);
    b.collectBinned(Int16Array.from(x2, (v) => Math.floor((v * 8) / 16)), 16, -16, 10);
    expect(b.range).toBe(16);
    expect(Array.from(b.counts)).toEqual(Array.from(a.counts));
    expect([b.count, b.min, b.max]).toEqual([a.count, a.min, a.max]);
  });

  it('matches collect() exactly on growing Gaussian batches off the bin edges', () => {
    const a = new AbsHistogram();
    const b = new AbsHistogram();
    for (const [seed, sigma] of [[11, 0.01], [12, 1], [13, 0.5], [14, 37], [15, 1e-3]] as const) {
      const g = gaussian(50_000, seed, sigma);
      const x = offEdges(g, b.bins, batchRange(b, g)[0]);
      expect(x.length).toBeGreaterThan(49_000);
      const binned = floorBins(b, x);
      expect(binned[1]).toBe(batchRange(b, g)[0]); // the filter kept the batch's range
      a.collect(x);
      b.collectBinned(...binned);
      expect(b.range).toBe(a.range);
      expect(Array.from(b.counts)).toEqual(Array.from(a.counts));
    }
    expect([b.count, b.min, b.max]).toEqual([a.count, a.min, a.max]);
  });

  it('matches collect() on growing Gaussian batches binned as in the graph, up to values on bin edges', () => {
    const a = new AbsHistogram();
    const b = new AbsHistogram();
    const zeros = new Float32Array(1000);
    a.collect(zeros);
    b.collectBinned(...graphBins(b, zeros));
    expect(b.range).toBe(0);
    for (const [seed, sigma] of [[1, 0.01], [2, 1], [3, 0.5], [4, 37], [5, 1e-3]] as const) {
      const x = gaussian(100_000, seed, sigma);
      a.collect(x);
      b.collectBinned(...graphBins(b, x));
      expect(b.range).toBe(a.range);
    }
    expect([b.count, b.min, b.max]).toEqual([a.count, a.min, a.max]);
    let moved = 0;
    for (let k = 0; k < a.bins; k++) moved += Math.abs(a.counts[k]! - b.counts[k]!);
    expect(moved / 2).toBeLessThanOrEqual(a.count * 1e-4);
  });

  it('is what HistogramCalibrator exposes as `binned`', () => {
    const c = new EntropyCalibrator({ bins: 512 });
    expect(c.binned).toBe(c.histogram);
    expect([c.binned.bins, c.binned.range]).toEqual([512, 0]);
  });

  it('rejects a range that is not the current one doubled, indices outside [-bins - 1, bins], and > 32767 bins', () => {
    const h = new AbsHistogram(8);
    h.collectBinned(new Int16Array([1, 2]), 4, 0.5, 1);
    expect(() => h.collectBinned(new Int16Array([1]), 12, 0, 1)).toThrow(/not this histogram's range 4 doubled/);
    expect(() => h.collectBinned(new Int16Array([1]), 2, 0, 1)).toThrow(/not this histogram's range 4 doubled/);
    expect(() => h.collectBinned(new Int16Array([9, 1]), 4, 0, 1)).toThrow(/1 of 2 bin indices are outside \[-9, 8\]/);
    expect(() => h.collectBinned(new Int16Array([-10, 1, -9, 8]), 4, 0, 1)).toThrow(/1 of 4 bin indices are outside/);
    expect(() => h.collectBinned(new Int16Array([-32768, 32767, 0]), 4, 0, 1)).toThrow(/2 of 3 bin indices are outside/);
    expect(() => h.collectBinned(new Int16Array([9, 1]), 8, 0, 1)).toThrow(/1 of 2 bin indices are outside/); // while the range grows
    const large = new Int16Array(1000).fill(3); // counted in WebAssembly
    large[500] = 100;
    expect(() => h.collectBinned(large, 4, 0, 1)).toThrow(/1 of 1000 bin indices are outside/);
    expect(() => h.collectBinned(new Int16Array([1]), 4, 0, 5)).toThrow(/exceeds its range/);
    expect(() => h.collectBinned(new Int16Array([1]), 4, NaN, 1)).toThrow(/finite/);
    expect(() => new AbsHistogram(40000).collectBinned(new Int16Array([1]), 4, 0, 1)).toThrow(/at most 32767 bins/);
    // The rejected calls left the histogram as it was.
    expect(h.count).toBe(2);
    expect(h.range).toBe(4);
    expect(Array.from(h.counts)).toEqual([0, 1, 1, 0, 0, 0, 0, 0]);
  });
});
