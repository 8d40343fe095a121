import { describe, expect, it } from 'vitest';
import { addBins, addBinsDirect, addBinsInLanes, MAX_BINS } from '../src/bin-counter.js';
import { rng } from './helpers.js';

/** The plain definition: bin v for v >= 0, -v - 1 for v < 0, bins and -bins - 1 in the last bin; others left out. */
function reference(indices: Int16Array, bins: number): { counts: number[]; seen: number } {
  const counts = new Array<number>(bins).fill(0);
  let seen = 0;
  for (const v of indices) {
    if (v < -bins - 1 || v > bins) continue;
    counts[v >= 0 ? Math.min(v, bins - 1) : Math.min(-v - 1, bins - 1)]!++;
    seen++;
  }
  return { counts, seen };
}

/** n indices: ~half zeros, the rest spread over [-bins - 1, bins] with the extremes often, and a few beyond. */
function randomIndices(n: number, seed: number, bins: number, beyond = 0): Int16Array {
  const u = rng(seed);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const r = u();
    if (r < 0.5) continue;
    if (r < 0.55) out[i] = [bins, -bins, -bins - 1][Math.floor(u() * 3)]!;
    else if (r < 0.55 + beyond) out[i] = u() < 0.5 ? bins + 1 + Math.floor(u() * (32767 - bins)) : -bins - 2 - Math.floor(u() * (32767 - bins));
    else out[i] = Math.floor((2 * u() - 1) * (bins + 1));
  }
  return out;
}

type Add = typeof addBins;

/** Adds to counts that already hold some (fractional) values: those must stay, and bins past `bins` stay untouched. */
function check(add: Add, indices: Int16Array, bins: number): void {
  const before = Float64Array.from({ length: bins + 3 }, (_, k) => (k * 0.25) % 3);
  const counts = before.slice();
  const seen = add(indices, bins, counts);
  const ref = reference(indices, bins);
  expect(seen).toBe(ref.seen);
  const expected = seen === indices.length ? ref.counts.map((c, k) => before[k]! + c) : Array.from(before.subarray(0, bins));
  expect(Array.from(counts.subarray(0, bins))).toEqual(expected);
  expect(Array.from(counts.subarray(bins))).toEqual(Array.from(before.subarray(bins)));
}

describe.each([
  ['addBins', addBins],
  ['addBinsInLanes (WebAssembly)', addBinsInLanes],
  ['addBinsDirect', addBinsDirect],
] as const)('%s', (_, count: Add) => {
  it('folds signed floor indices into |x| bins: v, -v - 1; bins, -bins and -bins - 1 in the last', () => {
    const counts = new Float64Array(8);
    expect(count(Int16Array.from([0, -1, 1, -2, 2, 7, -7, -8, 8, 3, -4, -9]), 8, counts)).toBe(12);
    expect(Array.from(counts)).toEqual([2, 2, 1, 2, 0, 0, 1, 4]);
    expect(count(Int16Array.from([0, 8, -9]), 8, counts)).toBe(3);
    expect(Array.from(counts)).toEqual([3, 2, 1, 2, 0, 0, 1, 6]);
  });

  it('matches the reference for lengths 0-7 and odd lengths', () => {
    for (let n = 0; n <= 7; n++) check(count, randomIndices(n, 100 + n, 8), 8);
    for (const n of [1001, 4097, 65535]) check(count, randomIndices(n, n, 2048), 2048);
  });

  it('matches the reference for 1, 2048 and 32767 bins', () => {
    check(count, randomIndices(10_001, 1, 1), 1);
    check(count, randomIndices(100_003, 2, 2048), 2048);
    check(count, randomIndices(100_003, 3, MAX_BINS), MAX_BINS);
  });

  it('matches the reference for a tensor larger than one chunk', () => {
    check(count, randomIndices(1_000_003, 4, 2048), 2048);
  });

  it('matches the reference for views at an offset into their buffer', () => {
    const all = randomIndices(20_011, 5, 512);
    check(count, all.subarray(3, 20_000), 512);
    check(count, new Int16Array(all.buffer, 2, 9), 512);
  });

  it('starts each call afresh, whatever the bins of the one before', () => {
    for (const [seed, bins] of [[6, 32767], [7, 16], [8, 2048], [9, 16], [10, 32767]] as const) {
      check(count, randomIndices(50_001, seed, bins), bins);
    }
  });

  it('adds nothing when some index is outside [-bins - 1, bins], and says how many were inside', () => {
    const counts = new Float64Array(8).fill(1);
    expect(count(Int16Array.from([9, -10, -32768, 32767, 8, -8, 0, 100, -100]), 8, counts)).toBe(3);
    expect(Array.from(counts)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    check(count, randomIndices(300_001, 11, 2048, 0.01), 2048);
    check(count, randomIndices(300_001, 12, 3, 0.2), 3);
  });

  it('rejects bins outside [1, 32767] and too short counts', () => {
    expect(() => count(new Int16Array(1), 0, new Float64Array(1))).toThrow(/bins must be an integer in \[1, 32767\]/);
    expect(() => count(new Int16Array(1), 32768, new Float64Array(32768))).toThrow(/bins must be/);
    expect(() => count(new Int16Array(1), 1.5, new Float64Array(2))).toThrow(/bins must be/);
    expect(() => count(new Int16Array(1), 8, new Float64Array(7))).toThrow(/counts holds 7 bins, needs 8/);
  });
});
