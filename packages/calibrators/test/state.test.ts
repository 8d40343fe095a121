import type { Calibrator, CalibratorState } from '@qdeploy/core';
import { describe, expect, it } from 'vitest';
import { EntropyCalibrator, MseCalibrator, PercentileCalibrator, STATE_VERSION } from '../src/index.js';
import { batches, gaussian, laplace } from './helpers.js';

const makers: [string, () => Calibrator][] = [
  ['percentile', () => new PercentileCalibrator()],
  ['entropy', () => new EntropyCalibrator()],
  ['mse', () => new MseCalibrator()],
];

const viaJson = (s: CalibratorState): CalibratorState => JSON.parse(JSON.stringify(s));

describe.each(makers)('%s state / merge', (method, make) => {
  it('is versioned, JSON-safe plain data', () => {
    const c = make();
    c.collect(gaussian(1000, 51));
    const s = c.state();
    expect(s.method).toBe(method);
    expect(s.version).toBe(STATE_VERSION);
    expect(Array.isArray(s['counts'])).toBe(true);
    expect(viaJson(s)).toEqual(s);
  });

  it('two halves merged == everything in one calibrator, when the ranges agree', () => {
    const x = laplace(400_000, 52);
    x[0] = 20; // both halves start with the global max |x| -> same range
    x[200_000] = -20;
    const whole = make();
    for (const b of batches(x, 20_000)) whole.collect(b);
    const [a, b] = [make(), make()];
    for (const p of batches(x.subarray(0, 200_000), 20_000)) a.collect(p);
    for (const p of batches(x.subarray(200_000), 20_000)) b.collect(p);
    a.merge(viaJson(b.state()));
    expect(a.state()).toEqual(whole.state());
    expect(a.compute()).toEqual(whole.compute());
    // the other way round too
    const [a2, b2] = [make(), make()];
    a2.collect(x.subarray(0, 200_000));
    b2.collect(x.subarray(200_000));
    b2.merge(viaJson(a2.state()));
    expect(b2.compute()).toEqual(whole.compute());
  });

  it('is close when the ranges differ (proportional re-bin), and a merged-into empty calibrator equals the source', () => {
    const x = gaussian(300_000, 53, 1);
    const y = gaussian(300_000, 54, 1.3);
    // y first: the single calibrator's grid is y's range, the one the merge keeps, so the
    // only difference left is the proportional re-bin of x's counts.
    const whole = make();
    whole.collect(y);
    whole.collect(x);
    const [a, b] = [make(), make()];
    a.collect(x);
    b.collect(y);
    a.merge(viaJson(b.state()));
    const got = a.compute().amax;
    const want = whole.compute().amax;
    expect(Math.abs(got - want) / want).toBeLessThan(0.01);
    expect(a.state()['count']).toBe(600_000);

    const empty = make();
    empty.merge(viaJson(b.state()));
    expect(empty.compute()).toEqual(b.compute());
    const c = make();
    c.collect(y);
    c.merge(viaJson(make().state())); // merging nothing changes nothing
    expect(c.compute()).toEqual(b.compute());
  });

  it('refuses states of other methods, other versions, other bin counts, or malformed', () => {
    const c = make();
    c.collect(gaussian(100, 55));
    const other = method === 'mse' ? new EntropyCalibrator() : new MseCalibrator();
    other.collect(gaussian(100, 56));
    expect(() => c.merge(other.state())).toThrow(/cannot merge a state collected by method/);
    expect(() => c.merge({ ...c.state(), version: 2 })).toThrow(/unsupported state version 2/);
    expect(() => c.merge({ ...c.state(), counts: [1, 2, 3] })).toThrow(/counts/);
    expect(() => c.merge({ ...c.state(), bins: 3, counts: [1, 2, 3] })).toThrow(/3 bins/);
    expect(() => c.merge({ method, version: STATE_VERSION })).toThrow(/bins/);
  });
});
