import { describe, expect, it } from 'vitest';
import { PercentileCalibrator } from '../src/index.js';
import { absQuantile, batches, gaussian, laplace, relu } from './helpers.js';

// Analytic quantiles of |x| for x ~ N(0,1): P(|x| <= q) = p  <=>  q = Φ⁻¹((1 + p) / 2).
const Q_9999 = 3.890592; // Φ⁻¹(0.99995)
const Q_99 = 2.575829; // Φ⁻¹(0.995)

describe('percentile', () => {
  const x = gaussian(2_000_000, 21);

  it('99.99 on N(0,1) is ≈ 3.89, and within one bin of the exact empirical quantile', () => {
    const c = new PercentileCalibrator();
    for (const b of batches(x, 65_536)) c.collect(b);
    const { amax, min, max } = c.compute();
    expect(amax).toBeCloseTo(Q_9999, 1);
    expect(Math.abs(amax - absQuantile(x, 0.9999))).toBeLessThanOrEqual(c.histogram.binWidth);
    expect(amax).toBeGreaterThanOrEqual(absQuantile(x, 0.9999)); // the upper edge keeps >= p%
    expect([min, max]).toEqual([-amax, amax]); // extremes (~5σ) are clipped to ±amax
  });

  it('option percentile = 99 gives ≈ 2.576', () => {
    const c = new PercentileCalibrator({ percentile: 99 });
    for (const b of batches(x, 65_536)) c.collect(b);
    const amax = c.compute().amax;
    expect(amax).toBeCloseTo(Q_99, 1);
    expect(Math.abs(amax - absQuantile(x, 0.99))).toBeLessThanOrEqual(c.histogram.binWidth);
  });

  it('percentile 100 gives the max |x|', () => {
    const c = new PercentileCalibrator({ percentile: 100 });
    c.collect(x.subarray(0, 10_000));
    const m = Math.max(...Array.from(x.subarray(0, 10_000), Math.abs));
    expect(c.compute().amax).toBe(m);
  });

  it('ignores a few huge outliers on a Laplacian', () => {
    const y = laplace(500_000, 22);
    for (const i of [10, 20_000, 300_000]) y[i] = 1000;
    y[400_000] = -1000;
    const c = new PercentileCalibrator();
    for (const b of batches(y, 50_000)) c.collect(b);
    const r = c.compute();
    // |x| of Laplace(0,1) is Exp(1): its 99.99% quantile is ln(1e4) ≈ 9.21
    expect(r.amax).toBeGreaterThan(5);
    expect(r.amax).toBeLessThan(20);
    expect(r.min).toBe(-r.amax);
  });

  it('one-sided ReLU outputs: amax ≈ the 99.99% quantile of max(0, x), min stays 0', () => {
    const y = relu(x);
    const c = new PercentileCalibrator();
    for (const b of batches(y, 65_536)) c.collect(b);
    const r = c.compute();
    // half the values are 0, so P(max(0,x) <= q) = 0.9999 <=> Φ(q) = 0.9999 -> q ≈ 3.719
    expect(r.amax).toBeCloseTo(3.719, 1);
    expect(Math.abs(r.amax - absQuantile(y, 0.9999))).toBeLessThanOrEqual(c.histogram.binWidth);
    expect(r.min).toBe(0);
    expect(r.max).toBe(r.amax);
  });

  it('all zeros -> amax 0; nothing collected -> a clear error', () => {
    const c = new PercentileCalibrator();
    expect(() => c.compute()).toThrow(/percentile calibrator: compute\(\) called before any values were collected/);
    c.collect(new Float32Array(1000));
    expect(c.compute()).toEqual({ amax: 0, min: 0, max: 0 });
  });

  it('validates options', () => {
    expect(() => new PercentileCalibrator({ percentile: 0 })).toThrow(/must be > 0/);
    expect(() => new PercentileCalibrator({ percentile: 101 })).toThrow(/<= 100/);
    expect(() => new PercentileCalibrator({ percentile: '99' })).toThrow(/finite number/);
    expect(() => new PercentileCalibrator({ percentil: 99 })).toThrow(/unknown option "percentil".*accepted: percentile, bins/);
    expect(() => new PercentileCalibrator({ bins: 10.5 })).toThrow(/integer/);
    expect(new PercentileCalibrator({ bins: 512 }).histogram.bins).toBe(512);
  });
});
