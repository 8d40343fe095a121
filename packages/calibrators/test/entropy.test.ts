import { describe, expect, it } from 'vitest';
import { EntropyCalibrator, PercentileCalibrator, entropyCutBin } from '../src/index.js';
import { batches, gaussian, irregularHistograms, laplace, relu } from './helpers.js';

/**
 * Slow reference of the KL sweep, written directly from the description (TensorRT's
 * entropy calibrator / pytorch-quantization): build P and Q as arrays for every
 * candidate and sum p·ln(p/q). Returns the best cut (bins kept), the last one on ties.
 */
function referenceCut(hist: ArrayLike<number>, levels = 128, start = 128, stride = 1): number {
  const h = Array.from(hist);
  h[0] = h[1]!;
  let best = Infinity;
  let bestCut = -1;
  for (let i = start; i <= h.length; i += stride) {
    const P = h.slice(0, i);
    for (let j = i; j < h.length; j++) P[i - 1]! += h[j]!;
    const levelOf = (j: number) => Math.floor((j * levels) / i);
    const mass = new Array<number>(levels).fill(0);
    const nonZero = new Array<number>(levels).fill(0);
    for (let j = 0; j < i; j++) {
      if (h[j]! > 0) {
        mass[levelOf(j)]! += h[j]!;
        nonZero[levelOf(j)]! += 1;
      }
    }
    const Q = h.slice(0, i).map((v, j) => (v > 0 ? mass[levelOf(j)]! / nonZero[levelOf(j)]! : 0));
    const sp = P.reduce((a, b) => a + b, 0);
    const sq = Q.reduce((a, b) => a + b, 0);
    let kl = 0;
    for (let j = 0; j < i; j++) {
      const p = P[j]! / sp;
      const q = Q[j]! / sq;
      if (p > 0) kl += q > 0 ? p * Math.log(p / q) : Infinity;
    }
    if (kl <= best) {
      best = kl;
      bestCut = i;
    }
  }
  return bestCut;
}

function collect(c: { collect(v: Float32Array): void }, x: Float32Array, size = 65_536): void {
  for (const b of batches(x, size)) c.collect(b);
}

describe('entropy', () => {
  it('on N(0,1) picks the same cut as the slow reference, in the 2.5σ–4σ range TensorRT users see', () => {
    const x = gaussian(20_000, 31);
    const c = new EntropyCalibrator();
    collect(c, x, 5000);
    const h = c.histogram;
    const ref = referenceCut(h.counts);
    const cut = entropyCutBin(h.counts, 128, 128, 1);
    expect(Math.abs(cut - ref)).toBeLessThanOrEqual(1);
    const { amax, min, max } = c.compute();
    expect(amax).toBe(Math.min(h.edge(cut), h.absMax));
    expect(Math.abs(amax - h.edge(ref))).toBeLessThanOrEqual(h.binWidth);
    expect(amax).toBeGreaterThan(2.5);
    expect(amax).toBeLessThan(4);
    expect(amax).toBeLessThan(h.absMax); // it clips
    expect([min, max]).toEqual([-amax, amax]);
  });

  it('on 1M N(0,1) samples still matches the reference; amax grows with the sample count (as in TensorRT)', () => {
    const x = gaussian(1_000_000, 31);
    const c = new EntropyCalibrator();
    c.collect(x); // one batch: the histogram spans exactly [0, max |x|]
    const h = c.histogram;
    const cut = entropyCutBin(h.counts, 128, 128, 1);
    expect(Math.abs(cut - referenceCut(h.counts))).toBeLessThanOrEqual(1);
    const { amax } = c.compute();
    expect(amax).toBe(h.edge(cut));
    // ~4.6σ here vs ~3.5σ on 20k samples: the sparse far tail costs little KL.
    expect(amax).toBeGreaterThan(4);
    expect(amax).toBeLessThan(0.95 * h.absMax);
  });

  it('matches the reference on irregular histograms (gaps, spikes, tails), with strides and other level counts', () => {
    for (const [t, hist] of irregularHistograms(32, 6).entries()) {
      for (const [levels, start, stride] of [[128, 128, 1], [64, 64, 3], [16, 100, 7]] as const) {
        const ref = referenceCut(hist, levels, start, stride);
        const cut = entropyCutBin(hist, levels, start, stride);
        expect(Math.abs(cut - ref), `t=${t} levels=${levels} stride=${stride}`).toBeLessThanOrEqual(stride);
      }
    }
  });

  it('skips cuts whose last bin is empty while mass lies beyond (infinite KL)', () => {
    // 200 bins: mass in 0..149, nothing in 150..189, a spike in 195.
    const hist = new Float64Array(200);
    for (let j = 0; j < 150; j++) hist[j] = 1000 - 5 * j;
    hist[195] = 50;
    const cut = entropyCutBin(hist, 16, 16, 1);
    expect(cut).toBe(referenceCut(hist, 16, 16, 1));
    for (let i = 151; i <= 195; i++) expect(cut).not.toBe(i);
  });

  it('breaks ties towards the larger cut (pytorch-quantization takes the last argmin)', () => {
    // All mass in bins 0-1 (bin 0 := bin 1): every cut reproduces P exactly, KL = 0 for all.
    const hist = new Float64Array(64);
    hist[1] = 4;
    expect(referenceCut(hist, 4, 8, 1)).toBe(64);
    expect(entropyCutBin(hist, 4, 8, 1)).toBe(64);
    expect(entropyCutBin(hist, 4, 8, 5)).toBe(63);
  });

  it('ignores huge outliers on a Laplacian (far below the outlier, unlike minmax)', () => {
    const y = laplace(1_000_000, 33); // max |x| ≈ 14, 99.99% of |x| below ≈ 9.2
    for (const i of [5, 123_456, 654_321]) y[i] = 150;
    y[999_999] = -150;
    const c = new EntropyCalibrator();
    collect(c, y);
    const { amax, min, max } = c.compute();
    expect(Math.abs(entropyCutBin(c.histogram.counts, 128, 128, 1) - referenceCut(c.histogram.counts))).toBeLessThanOrEqual(1);
    expect(amax).toBeGreaterThan(7);
    expect(amax).toBeLessThan(15); // vs 150 for minmax
    expect([min, max]).toEqual([-amax, amax]);
  });

  it('like pytorch-quantization, keeps the full range when the bulk spans fewer than startBin bins', () => {
    // Outliers 1000 vs a bulk below ~15: the bulk fills < 128 of 2048 bins, so every cut
    // below the outliers folds their mass into an empty bin (infinite KL). Documented
    // limitation; percentile is the method for such tensors.
    const y = laplace(200_000, 33);
    y[5] = 1000;
    const c = new EntropyCalibrator();
    collect(c, y);
    expect(referenceCut(c.histogram.counts)).toBe(2048);
    expect(c.compute().amax).toBe(1000);
  });

  it('handles one-sided ReLU outputs (a spike at 0): a sane amax and min 0', () => {
    const y = relu(gaussian(100_000, 34));
    const c = new EntropyCalibrator();
    collect(c, y, 100_000);
    const r = c.compute();
    expect(Math.abs(entropyCutBin(c.histogram.counts, 128, 128, 1) - referenceCut(c.histogram.counts))).toBeLessThanOrEqual(1);
    expect(r.amax).toBeGreaterThan(2.5);
    expect(r.amax).toBeLessThan(c.histogram.absMax);
    expect(r.min).toBe(0);
    expect(r.max).toBe(r.amax);
  });

  it('clips more of a Laplacian than of a Gaussian of the same max (heavier tail)', () => {
    const g = new EntropyCalibrator();
    const l = new EntropyCalibrator();
    collect(g, gaussian(500_000, 35));
    collect(l, laplace(500_000, 36));
    const rg = g.compute().amax / g.histogram.absMax;
    const rl = l.compute().amax / l.histogram.absMax;
    expect(rl).toBeLessThan(rg);
  });

  it('nBits / levels options change the sweep; contradictions and bad options are rejected', () => {
    const x = gaussian(200_000, 37);
    const c8 = new EntropyCalibrator();
    const c4 = new EntropyCalibrator({ nBits: 4, startBin: 8 });
    collect(c8, x);
    collect(c4, x);
    expect(c4.levels).toBe(8);
    expect(entropyCutBin(c4.histogram.counts, 8, 8, 1)).toBe(referenceCut(c4.histogram.counts, 8, 8, 1));
    expect(c4.compute().amax).toBeLessThan(c8.compute().amax); // fewer levels -> clip harder
    expect(() => new EntropyCalibrator({ nBits: 8, levels: 64 })).toThrow(/contradicts/);
    expect(() => new EntropyCalibrator({ startBin: 4096 })).toThrow(/startBin/);
    expect(() => new EntropyCalibrator({ stride: 0 })).toThrow(/stride/);
    expect(() => new EntropyCalibrator({ percentile: 99 })).toThrow(/unknown option/);
  });

  it('all zeros -> amax 0; nothing collected -> a clear error', () => {
    const c = new EntropyCalibrator();
    expect(() => c.compute()).toThrow(/entropy calibrator: compute\(\) called before any values/);
    c.collect(new Float32Array(4096));
    expect(c.compute()).toEqual({ amax: 0, min: 0, max: 0 });
    c.collect(new Float32Array([0, 1e-30]));
    expect(Number.isFinite(c.compute().amax)).toBe(true);
  });

  it('percentile and entropy agree on a Gaussian to within ~1σ (sanity)', () => {
    const x = gaussian(300_000, 39);
    const e = new EntropyCalibrator();
    const p = new PercentileCalibrator();
    collect(e, x);
    collect(p, x);
    expect(Math.abs(e.compute().amax - p.compute().amax)).toBeLessThan(1.5);
  });
});
