import { describe, expect, it } from 'vitest';
import { MinMaxCalibrator } from '../src/index.js';
import { batches, gaussian, laplace, maxAbs, relu } from './helpers.js';

describe('minmax', () => {
  it('gives the exact max |x| and the signed extrema over all batches', () => {
    const x = gaussian(100_000, 11, 2, 0.5);
    const c = new MinMaxCalibrator();
    for (const b of batches(x, 4096)) c.collect(b);
    let min = Infinity;
    let max = -Infinity;
    for (const v of x) (min = Math.min(min, v)), (max = Math.max(max, v));
    expect(c.compute()).toEqual({ amax: maxAbs(x), min, max });
  });

  it('is set by a single outlier', () => {
    const x = laplace(50_000, 12);
    x[777] = -1000;
    const c = new MinMaxCalibrator();
    c.collect(x);
    expect(c.compute().amax).toBe(1000);
    expect(c.compute().min).toBe(-1000);
  });

  it('keeps min at 0 for one-sided (ReLU) tensors, and 0 inside [min, max] for shifted ones', () => {
    const c = new MinMaxCalibrator();
    c.collect(relu(gaussian(10_000, 13)));
    const r = c.compute();
    expect(r.min).toBe(0);
    expect(r.max).toBe(r.amax);
    const d = new MinMaxCalibrator();
    d.collect(new Float32Array([2, 3, 5]));
    expect(d.compute()).toEqual({ amax: 5, min: 0, max: 5 });
  });

  it('returns amax 0 on an all-zero tensor and throws before any data', () => {
    const c = new MinMaxCalibrator();
    expect(() => c.compute()).toThrow(/before any values were collected/);
    c.collect(new Float32Array(0));
    expect(() => c.compute()).toThrow(/before any values/);
    c.collect(new Float32Array(100));
    expect(c.compute()).toEqual({ amax: 0, min: 0, max: 0 });
  });

  it('rejects non-finite values, counting them', () => {
    const c = new MinMaxCalibrator();
    expect(() => c.collect(new Float32Array([0, NaN, NaN, 1]))).toThrow(/2 non-finite/);
    expect(() => c.compute()).toThrow(/before any values/);
  });

  it('merges JSON states of two halves into the same result', () => {
    const x = gaussian(20_000, 14);
    const [a, b, all] = [new MinMaxCalibrator(), new MinMaxCalibrator(), new MinMaxCalibrator()];
    a.collect(x.subarray(0, 10_000));
    b.collect(x.subarray(10_000));
    all.collect(x);
    a.merge(JSON.parse(JSON.stringify(b.state())));
    expect(a.compute()).toEqual(all.compute());
    expect(a.state()).toEqual(all.state());
    const empty = new MinMaxCalibrator();
    a.merge(JSON.parse(JSON.stringify(empty.state())));
    expect(a.compute()).toEqual(all.compute());
    empty.merge(all.state());
    expect(empty.compute()).toEqual(all.compute());
  });

  it('refuses other methods, other versions, bad states and any option', () => {
    const c = new MinMaxCalibrator();
    expect(() => c.merge({ method: 'entropy', version: 1 })).toThrow(/"entropy"/);
    expect(() => c.merge({ method: 'minmax', version: 99, count: 1, min: 0, max: 1 })).toThrow(/version 99/);
    expect(() => c.merge({ method: 'minmax', version: 1, count: 1, min: 2, max: 1 })).toThrow(/min <= max/);
    expect(() => new MinMaxCalibrator({ percentile: 99 })).toThrow(/unknown option "percentile"/);
  });
});
