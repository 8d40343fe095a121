import { describe, expect, it } from 'vitest';
import { MseCalibrator, mseBestBin } from '../src/index.js';
import { batches, gaussian, laplace, relu, uniform } from './helpers.js';

/**
 * Slow reference written from the description: for every candidate center, fake-quantize
 * every bin center to nBits symmetric (round half to even, clamp to ±(2^(nBits-1)-1))
 * and sum count · error². First minimum wins. Works in real units (edges from range).
 */
function referenceAmax(counts: ArrayLike<number>, range: number, nBits = 8, start = 128, stride = 1): number {
  const n = counts.length;
  const w = range / n;
  const centers = Array.from({ length: n }, (_, j) => (j + 0.5) * w);
  const qmax = 2 ** (nBits - 1) - 1;
  const rint = (v: number) => {
    const f = Math.floor(v);
    const d = v - f;
    return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
  };
  let best = Infinity;
  let bestAmax = NaN;
  for (let i = start; i < n - 1; i += stride) {
    const amax = centers[i]!;
    const scale = qmax / amax;
    let err = 0;
    for (let j = 0; j < n; j++) {
      const q = Math.max(-qmax - 1, Math.min(qmax, rint(centers[j]! * scale))) / scale;
      err += counts[j]! * (centers[j]! - q) ** 2;
    }
    if (err < best) {
      best = err;
      bestAmax = amax;
    }
  }
  return bestAmax;
}

describe('mse', () => {
  it('on a uniform distribution gives ≈ the max', () => {
    const x = uniform(500_000, 41, -1, 1);
    const c = new MseCalibrator();
    for (const b of batches(x, 50_000)) c.collect(b);
    const { amax, min, max } = c.compute();
    expect(amax).toBeGreaterThan(0.99);
    expect(amax).toBeLessThanOrEqual(1);
    expect(amax).toBeCloseTo(referenceAmax(c.histogram.counts, c.histogram.range), 12);
    expect([min, max]).toEqual([-amax, amax]);
  });

  it('matches the slow reference on Gaussian, Laplacian and ReLU data, near the analytic optimum', () => {
    const cases: [string, Float32Array][] = [
      ['gaussian', gaussian(200_000, 42)],
      ['laplace', laplace(200_000, 43)],
      ['relu', relu(gaussian(200_000, 44))],
    ];
    const got: Record<string, number> = {};
    for (const [name, x] of cases) {
      const c = new MseCalibrator();
      c.collect(x);
      const h = c.histogram;
      const { amax } = c.compute();
      const ref = referenceAmax(h.counts, h.range);
      expect(Math.abs(amax - ref), name).toBeLessThanOrEqual(h.binWidth);
      expect(amax).toBeLessThan(h.absMax);
      got[name] = amax;
    }
    // Analytic MSE-optimal 8-bit clipping (Banner et al., ACIQ): ≈ 9.89·b for Laplace(b), ≈ 4σ for N(0, σ²)
    expect(got['laplace']!).toBeGreaterThan(9);
    expect(got['laplace']!).toBeLessThan(11);
    expect(got['gaussian']!).toBeGreaterThan(3.5);
    expect(got['gaussian']!).toBeLessThan(4.5);
    expect(got['relu']!).toBeGreaterThan(3.2);
  });

  it('fewer bits clip harder; stride and startBin options are honoured', () => {
    const x = gaussian(200_000, 45);
    const c8 = new MseCalibrator();
    const c4 = new MseCalibrator({ nBits: 4, startBin: 16 });
    const s = new MseCalibrator({ stride: 16 });
    for (const c of [c8, c4, s]) c.collect(x);
    const h = c4.histogram;
    expect(c4.compute().amax).toBeCloseTo(referenceAmax(h.counts, h.range, 4, 16), 12);
    expect(c4.compute().amax).toBeLessThan(c8.compute().amax);
    const k = mseBestBin(s.histogram.counts, 128, 16, 8);
    expect((k - 128) % 16).toBe(0);
    expect(s.compute().amax).toBeCloseTo(referenceAmax(h.counts, h.range, 8, 128, 16), 12);
  });

  it('all zeros -> amax 0; nothing collected -> a clear error; bad options rejected', () => {
    const c = new MseCalibrator();
    expect(() => c.compute()).toThrow(/mse calibrator: compute\(\) called before/);
    c.collect(new Float32Array(10));
    expect(c.compute()).toEqual({ amax: 0, min: 0, max: 0 });
    expect(() => new MseCalibrator({ startBin: 4096 })).toThrow(/startBin/);
    expect(() => new MseCalibrator({ nBits: 1 })).toThrow(/nBits/);
    expect(() => new MseCalibrator({ levels: 128 })).toThrow(/unknown option "levels"/);
  });
});
