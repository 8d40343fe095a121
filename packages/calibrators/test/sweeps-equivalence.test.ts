import { describe, expect, it } from 'vitest';
import { EntropyCalibrator, MseCalibrator, entropyCutBin, mseBestBin } from '../src/index.js';
import { gaussian, irregularHistograms, laplace, relu, rng, uniform } from './helpers.js';
import { plainEntropyCutBin, plainMseBestBin } from '../src/plain-sweeps.js';
import { wasmSweeps } from '../src/wasm-sweeps.js';

// The WebAssembly sweeps must return exactly the bin the plain ones (plain-sweeps.ts) return:
// same KL / squared-error ties, same skipped cuts.
const fast = wasmSweeps()!;

type Shape = (u: () => number, n: number) => Float64Array;

const gauss = (u: () => number): number => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());

/** Expected counts of a density on bin centers scaled to `total`, with Poisson-like noise. */
function fromDensity(u: () => number, n: number, total: number, density: (x: number) => number, integer: boolean): Float64Array {
  const h = new Float64Array(n);
  let z = 0;
  for (let j = 0; j < n; j++) z += density((j + 0.5) / n);
  for (let j = 0; j < n; j++) {
    const mu = (total * density((j + 0.5) / n)) / z;
    const v = Math.max(0, mu + Math.sqrt(mu) * gauss(u));
    h[j] = integer ? Math.round(v) : v;
  }
  return h;
}

const shapes: Record<string, Shape> = {
  halfNormal: (u, n) => fromDensity(u, n, 10 ** (3 + 5 * u()), (x) => Math.exp(-0.5 * (x * (3 + 3 * u())) ** 2), u() < 0.7),
  laplacian: (u, n) => fromDensity(u, n, 10 ** (3 + 5 * u()), (x) => Math.exp(-x * (6 + 10 * u())), u() < 0.7),
  reluZeros: (u, n) => {
    const h = fromDensity(u, n, 1e7, (x) => Math.exp(-0.5 * (x * (3.5 + 2 * u())) ** 2), true);
    h[0]! += (1e7 * (0.2 + 0.6 * u())) | 0; // ReLU zeros
    h[n - 1] = Math.max(h[n - 1]!, 1); // the max |x| lies in the last bin
    return h;
  },
  sparse: (u, n) => {
    const h = new Float64Array(n);
    const k = 1 + Math.floor(u() * 30);
    for (let t = 0; t < k; t++) h[Math.floor(u() ** 2 * n)]! += Math.ceil(u() * 1000);
    return h;
  },
  skewedTail: (u, n) => fromDensity(u, n, 1e6, (x) => 1 / (1 + 200 * x) ** (1.5 + 2 * u()), u() < 0.5),
  fractional: (u, n) => {
    // A proportional merge: integer counts split across two bins by a fixed overlap.
    const g = fromDensity(u, n, 1e5, (x) => Math.exp(-0.5 * (x * 4) ** 2), true);
    const f = u();
    const h = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      h[j]! += g[j]! * f;
      if (j + 1 < n) h[j + 1]! += g[j]! * (1 - f);
    }
    return h;
  },
  holes: (u, n) => {
    const h = new Float64Array(n);
    const scale = 40 + 200 * u();
    for (let j = 0; j < n; j++) {
      const r = u();
      h[j] = r < 0.3 ? 0 : Math.floor(1e5 * Math.exp(-j / scale) * (r > 0.97 ? 20 : 1) + (u() < 0.5 ? 1 : 0));
    }
    return h;
  },
  singleBin: (u, n) => {
    const h = new Float64Array(n);
    const pick = u();
    h[pick < 0.3 ? 0 : pick < 0.5 ? 1 : pick < 0.7 ? n - 1 : Math.floor(u() * n)] = u() < 0.5 ? 1 : 1e6 * u();
    return h;
  },
  beyondStart: (u, n) => {
    // All mass above bin 128 (the default startBin), or mostly so.
    const h = new Float64Array(n);
    const from = Math.min(n - 1, 130 + Math.floor(u() * (n / 2)));
    for (let j = from; j < n; j++) h[j] = Math.round(1000 * u() * Math.exp(-(j - from) / 50));
    if (u() < 0.5) h[0] = 1e6;
    return h;
  },
  uniformish: (u, n) => fromDensity(u, n, 1e6, () => 1, true),
  tinyAndHuge: (u, n) => {
    // Counts spanning many orders of magnitude (fractional ones far below 1).
    const h = fromDensity(u, n, 1e9, (x) => Math.exp(-x * 20), false);
    for (let j = 0; j < n; j++) if (u() < 0.1) h[j] = u() * 1e-3;
    h[0] = 1e12;
    return h;
  },
  dominantZero: (u, n) => {
    const h = fromDensity(u, n, 1e4, (x) => Math.exp(-x * 5), true);
    h[0] = 1e10;
    return h;
  },
  zeros: (_u, n) => new Float64Array(n),
};

function pick<T>(u: () => number, xs: readonly T[]): T {
  return xs[Math.floor(u() * xs.length)]!;
}

function expectSameEntropy(h: ArrayLike<number>, levels: number, start: number, stride: number, what: string): void {
  expect(fast.entropyCutBin(h, levels, start, stride), `${what} levels=${levels} start=${start} stride=${stride}`).toBe(
    plainEntropyCutBin(h, levels, start, stride),
  );
}

function expectSameMse(h: ArrayLike<number>, start: number, stride: number, nBits: number, what: string): void {
  expect(fast.mseBestBin(h, start, stride, nBits), `${what} start=${start} stride=${stride} nBits=${nBits}`).toBe(
    plainMseBestBin(h, start, stride, nBits),
  );
}

describe('WebAssembly entropy / mse sweeps = the plain sweeps, bin for bin', () => {
  it('are available here (else every comparison below would be vacuous)', () => {
    expect(wasmSweeps()).not.toBeNull();
  });

  it('on 360 random histograms of varied shapes, sizes and options', () => {
    const u = rng(2024);
    const names = Object.keys(shapes);
    for (let t = 0; t < 360; t++) {
      const name = names[t % names.length]!;
      const n = u() < 0.6 ? 2048 : 16 + Math.floor(u() * 1000);
      const h = shapes[name]!(u, n);
      const what = `#${t} ${name} n=${n}`;
      for (let k = 0; k < 2; k++) {
        const levels = k === 0 ? 128 : pick(u, [64, 128, 16, 8, 3]);
        const start = Math.min(n, k === 0 ? Math.min(128, n) : pick(u, [1, 8, 64, 128, 300, n - 1, n]));
        expectSameEntropy(h, levels, Math.max(1, start), k === 0 ? 1 : pick(u, [1, 2, 3, 7, 16]), what);
      }
      for (let k = 0; k < 2; k++) {
        const nBits = k === 0 ? 8 : pick(u, [4, 5, 6, 7, 8, 2, 12]);
        const start = k === 0 ? Math.min(128, n - 2) : pick(u, [0, 16, 128, 500, n - 3, n - 2]);
        expectSameMse(h, Math.max(0, start), k === 0 ? 1 : pick(u, [1, 2, 5, 16]), nBits, what);
      }
    }
  });

  it('on the histograms the entropy and mse tests build', () => {
    const fill = (c: { collect(v: Float32Array): void }, x: Float32Array, size = 65_536) => {
      for (let i = 0; i < x.length; i += size) c.collect(x.subarray(i, Math.min(x.length, i + size)));
    };
    const data: Float32Array[] = [
      gaussian(20_000, 31),
      gaussian(1_000_000, 31),
      relu(gaussian(100_000, 34)),
      gaussian(500_000, 35),
      laplace(500_000, 36),
      gaussian(200_000, 37),
      gaussian(100_000, 38),
      uniform(500_000, 41, -1, 1),
      gaussian(200_000, 42),
      laplace(200_000, 43),
      relu(gaussian(200_000, 44)),
    ];
    const outliers = laplace(1_000_000, 33);
    for (const i of [5, 123_456, 654_321]) outliers[i] = 150;
    outliers[999_999] = -150;
    const far = laplace(200_000, 33);
    far[5] = 1000;
    data.push(outliers, far);
    for (const [k, x] of data.entries()) {
      const e = new EntropyCalibrator();
      const m = new MseCalibrator();
      fill(e, x);
      fill(m, x);
      for (const [levels, start, stride] of [[128, 128, 1], [8, 8, 1], [64, 64, 3]] as const) {
        expectSameEntropy(e.histogram.counts, levels, start, stride, `data #${k}`);
      }
      for (const [start, stride, nBits] of [[128, 1, 8], [16, 1, 4], [128, 16, 8]] as const) {
        expectSameMse(m.histogram.counts, start, stride, nBits, `data #${k}`);
      }
    }
    // The hand-made histograms of entropy.test.ts.
    const gap = new Float64Array(200);
    for (let j = 0; j < 150; j++) gap[j] = 1000 - 5 * j;
    gap[195] = 50;
    expectSameEntropy(gap, 16, 16, 1, 'gap');
    expectSameMse(gap, 16, 1, 8, 'gap');
    const tie = new Float64Array(64);
    tie[1] = 4;
    for (const stride of [1, 5]) expectSameEntropy(tie, 4, 8, stride, 'tie');
    expectSameMse(tie, 8, 1, 8, 'tie');
    for (const [t, hist] of irregularHistograms(32, 6).entries()) {
      for (const [levels, start, stride] of [[128, 128, 1], [64, 64, 3], [16, 100, 7]] as const) {
        expectSameEntropy(hist, levels, start, stride, `irregular #${t}`);
      }
      expectSameMse(hist, 128, 1, 8, `irregular #${t}`);
    }
  });

  it('on edge cases: ties, empty, single bins, exact grid points, non-finite and negative counts', () => {
    const cases: [string, number[]][] = [
      ['all zeros', new Array(300).fill(0)],
      ['one count in bin 0', [5, ...new Array(299).fill(0)]],
      ['one count in bin 1', [0, 5, ...new Array(298).fill(0)]],
      ['one count in the last bin', [...new Array(299).fill(0), 7]],
      ['flat', new Array(300).fill(3)],
      ['two spikes', Array.from({ length: 300 }, (_, j) => (j === 10 || j === 250 ? 100 : 0))],
      ['periodic', Array.from({ length: 512 }, (_, j) => (j % 4 === 0 ? 10 : 0))],
      ['NaN count', Array.from({ length: 300 }, (_, j) => (j === 40 ? NaN : 100 - j / 3))],
      ['Infinity count', Array.from({ length: 300 }, (_, j) => (j === 40 ? Infinity : 100 - j / 3))],
      ['negative count', Array.from({ length: 300 }, (_, j) => (j === 40 ? -5 : 100 - j / 3))],
      ['huge counts', Array.from({ length: 300 }, (_, j) => 1e300 / (j + 1))],
      ['tiny counts', Array.from({ length: 300 }, (_, j) => 1e-300 * (300 - j))],
      ['short', [1, 2, 3]],
      ['two bins', [4, 1]],
      ['one bin', [9]],
      // 128 non-zero bins that every candidate from 300 on rounds to 0 (nBits 2): the same
      // error, summed the same way, for all of them; the first must win.
      ['a tie over many bins', Array.from({ length: 600 }, (_, j) => (j < 128 ? 1 + (j % 7) : 0))],
    ];
    for (const [name, h] of cases) {
      const n = h.length;
      for (const [levels, start, stride] of [[128, 128, 1], [4, 1, 1], [16, 8, 3], [1, 1, 1], [8, 1, 2]] as const) {
        if (start <= n) expectSameEntropy(h, levels, start, stride, name);
      }
      for (const [start, stride, nBits] of [[128, 1, 8], [0, 1, 8], [0, 1, 2], [300, 1, 2], [5, 3, 4], [0, 1, 16]] as const) {
        expectSameMse(h, start, stride, nBits, name);
      }
    }
  });
});

describe('entropyCutBin / mseBestBin', () => {
  it('give the plain sweeps\' bin (through WebAssembly here)', () => {
    const u = rng(7);
    for (let t = 0; t < 20; t++) {
      const h = shapes.laplacian!(u, 2048);
      expect(entropyCutBin(h, 128, 128, 1)).toBe(plainEntropyCutBin(h, 128, 128, 1));
      expect(mseBestBin(h, 128, 1, 8)).toBe(plainMseBestBin(h, 128, 1, 8));
    }
  });

  it('reject arguments that are not integers in range, naming them', () => {
    const h = new Float64Array(256).fill(1);
    expect(() => entropyCutBin(h, 0, 128, 1)).toThrow('entropyCutBin: levels must be an integer in [1, 1073741824], got 0');
    expect(() => entropyCutBin(h, 128, 0, 1)).toThrow('entropyCutBin: startBin must be');
    expect(() => entropyCutBin(h, 128, 128, 1.5)).toThrow('entropyCutBin: stride must be');
    expect(() => mseBestBin(h, -1, 1, 8)).toThrow('mseBestBin: startBin must be');
    expect(() => mseBestBin(h, 0, 1, 17)).toThrow('mseBestBin: nBits must be an integer in [2, 16], got 17');
  });
});
