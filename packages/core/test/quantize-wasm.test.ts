import { describe, expect, it } from 'vitest';
import { compileQuantizeWeights, compileScaleChannels, compileWeightExtrema } from '../../../scripts/gen-wasm.mjs';
import { plainQuantizeInto, quantizeInto } from '../src/quantize/rounding.js';
import { simdQuantizer } from '../src/quantize/quantize-weights.js';
import { QUANTIZE_WEIGHTS_WASM } from '../src/quantize/wasm/quantize-weights.wasm.js';
import { channelExtrema, plainExtrema, scaledChannelExtrema, simdExtremaAvailable } from '../src/quantize/weight-extrema.js';
import { WEIGHT_EXTREMA_WASM } from '../src/quantize/wasm/weight-extrema.wasm.js';
import { plainScaleChannels, scaleChannels, simdScaleAvailable } from '../src/quantize/scale-channels.js';
import { SCALE_CHANNELS_WASM } from '../src/quantize/wasm/scale-channels.wasm.js';

function random(n: number, seed: number): Float32Array {
  let s = seed;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = (s / 2147483648 - 0.4) * (1 + (i % 7));
  }
  return out;
}

function expectPlain(data: Float32Array, channels: number, inner: number): { min: Float32Array; max: Float32Array } {
  const got = channelExtrema(data, channels, inner);
  const min = new Float32Array(channels);
  const max = new Float32Array(channels);
  plainExtrema(data, channels, inner, min, max);
  expect(Array.from(got.min)).toEqual(Array.from(min));
  expect(Array.from(got.max)).toEqual(Array.from(max));
  return got;
}

describe('channelExtrema', () => {
  it('runs in WebAssembly here (else the comparisons below would be vacuous)', () => {
    expect(simdExtremaAvailable()).toBe(true);
  });

  it('is the plain loop: per output channel (axis 0), lengths that are not multiples of 4', () => {
    for (const [channels, inner] of [[1, 1], [3, 5], [64, 576], [7, 13], [2048, 3], [1, 1001]] as const) {
      expectPlain(random(channels * inner, channels + inner), channels, inner);
    }
  });

  it('cycles the channels when the axis is not the first (ConvTranspose, Gemm without transB)', () => {
    expectPlain(random(4 * 6 * 9, 3), 6, 9); // 4 × [6 channels × 9]
    expectPlain(random(5 * 3, 4), 3, 1); // a 5×3 Gemm weight, axis 1
  });

  it('starts from 0 (min <= 0 <= max) and skips NaN like the loop', () => {
    const { min, max } = expectPlain(Float32Array.from([1, 2, NaN, 3, NaN, -4, 5, NaN, 6, 7]), 2, 5);
    expect(Array.from(min)).toEqual([0, -4]);
    expect(Array.from(max)).toEqual([3, 7]);
    // The same values across rows: a [5, 2] weight along its last axis.
    const across = expectPlain(Float32Array.from([1, -4, 2, 5, NaN, NaN, 3, 6, NaN, 7]), 2, 1);
    expect(Array.from(across.min)).toEqual([0, -4]);
    expect(Array.from(across.max)).toEqual([3, 7]);
    expectPlain(Float32Array.from([NaN, -0, Infinity, -Infinity, -0, NaN, 2, 3]), 4, 1);
    expectPlain(Float32Array.from([NaN, NaN, NaN, NaN, NaN]), 1, 5);
    expectPlain(Float32Array.from([Infinity, -Infinity, 1, 2]), 2, 2);
  });

  it('across rows: channels that alternate value by value (MatMul [K, N] along N) or in short runs', () => {
    expectPlain(random(384 * 1536, 12), 1536, 1); // a ViT MLP weight [K, N], axis 1
    expectPlain(random(3 * 1001, 13), 1001, 1); // rows not a multiple of 4
    expectPlain(random(2 * 5 * 7 * 9, 14), 5 * 7, 9); // ConvTranspose [Cin, Cout, 3, 3] along Cout
    expectPlain(random(1 * 10 * 15, 15), 10, 15); // one row, runs just below the switch
    expectPlain(random(4096 * 1000, 16), 1000, 1); // rows across several chunks
    expectPlain(random(300 * 257, 17), 257, 1); // a chunk that is not a multiple of 4 values
    expectPlain(random(3 * 100_003, 19), 100_003, 1); // rows longer than a chunk (a vocabulary projection)
  });

  it('gives the same extrema for a layout and its transpose (both reductions)', () => {
    const [k, n] = [96, 80];
    const kn = random(k * n, 18); // [K, N], channels along N: across rows
    const nk = new Float32Array(k * n); // the same weight as [N, K], channels along N: contiguous runs
    for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) nk[j * k + i] = kn[i * n + j]!;
    const across = expectPlain(kn, n, 1);
    const runs = expectPlain(nk, n, k);
    expect(Array.from(across.min)).toEqual(Array.from(runs.min));
    expect(Array.from(across.max)).toEqual(Array.from(runs.max));
  });

  it('reads the little-endian bytes of a weight at an unaligned offset as the values', () => {
    for (const [channels, inner, outer] of [[64, 9, 1], [48, 1, 33]] as const) {
      const data = random(channels * inner * outer, channels);
      const bytes = new Uint8Array(data.byteLength + 3).subarray(3);
      bytes.set(new Uint8Array(data.buffer));
      const got = channelExtrema(bytes, channels, inner);
      const want = expectPlain(data, channels, inner);
      expect(Array.from(got.min)).toEqual(Array.from(want.min));
      expect(Array.from(got.max)).toEqual(Array.from(want.max));
    }
  });

  it('handles weights larger than one chunk, and segments larger than one chunk', () => {
    expectPlain(random(3_000_017, 9), 1, 3_000_017); // per tensor: one segment of 3 M values
    expectPlain(random(5 * 700_001, 10), 5, 700_001); // segments that do not fill a chunk evenly
    expectPlain(random(4096 * 600, 11), 4096, 600);
  });
});

describe('scaledChannelExtrema', () => {
  it('is channelExtrema of the product, for factors of any sign, 0, NaN and ±Infinity, per channel and per tensor, both layouts', () => {
    const factors = [1.7, -0.3, 0, -0, NaN, Infinity, -Infinity, 3e38, 1e-45];
    for (const [channels, inner, outer] of [[9, 27, 1], [9, 1, 40], [18, 5, 3]] as const) {
      const n = channels * inner * outer;
      const data = random(n, n);
      for (let i = 0; i < n; i += 11) data[i] = [NaN, 0, -0, Infinity, -Infinity, 3e38][(i / 11) % 6]!;
      const factor = Float32Array.from({ length: channels }, (_, c) => factors[c % factors.length]!);
      const product = new Float32Array(n);
      plainScaleChannels(data, product, factor, inner);
      for (const [c, k] of [[channels, inner], [1, n]] as const) {
        const want = { min: new Float32Array(c), max: new Float32Array(c) };
        plainExtrema(product, c, k, want.min, want.max);
        const got = scaledChannelExtrema(data, factor, inner, c);
        expect({ channels, inner, outer, c, min: Array.from(got.min), max: Array.from(got.max) }).toEqual({ channels, inner, outer, c, min: Array.from(want.min), max: Array.from(want.max) });
      }
    }
  });
});

describe('weight-extrema.wasm.ts', () => {
  it('is weight-extrema.wat as wabt compiles it (regenerate: npm run gen:wasm)', async () => {
    expect(Array.from(WEIGHT_EXTREMA_WASM)).toEqual(Array.from(await compileWeightExtrema()));
  });
});

describe('quantizeInto', () => {
  /** Values that exercise rounding ties, clamping and non-finite inputs, scaled per channel. */
  function tricky(n: number, seed: number, scale: Float32Array, inner: number): Float32Array {
    const x = random(n, seed);
    const special = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 127.5, -128.5, 1e30, -1e30, Infinity, -Infinity, NaN, -0, 0];
    for (let i = 0; i < n; i++) {
      const c = Math.floor(i / inner) % scale.length;
      x[i] = i % 5 === 0 ? special[(i / 5) % special.length]! * scale[c]! : x[i]! * 300 * scale[c]!;
    }
    return x;
  }

  it('runs in WebAssembly here', () => {
    expect(simdQuantizer()).not.toBeNull();
  });

  for (const [name, Out, qmin, qmax] of [['int8 symmetric', Int8Array, -128, 127], ['uint8 with zero points', Uint8Array, 0, 255]] as const) {
    it(`${name}: the plain loop's integers, ties to even, clamped, NaN to 0, every layout`, () => {
      // Contiguous runs, then across rows (inner < 16: MatMul [K, N] along N, ConvTranspose along Cout, rows over chunks).
      for (const [channels, inner, outer] of [[1, 1001, 1], [3, 5, 1], [64, 576, 1], [6, 9, 4], [3, 1, 5], [1, 3_000_017, 1], [5, 700_001, 1],
        [1536, 1, 384], [1001, 1, 3], [35, 9, 2], [10, 15, 1], [1000, 1, 2100], [100_003, 1, 3]] as const) {
        const scale = Float32Array.from({ length: channels }, (_, c) => 0.01 * (c + 1) + 1e-3);
        const zeroPoint = Int32Array.from({ length: channels }, (_, c) => (qmin === 0 ? 100 + c : 0));
        const n = channels * inner * outer;
        const data = tricky(n, n, scale, inner);
        const got = new Out(n);
        const want = new Out(n);
        quantizeInto(data, got, scale, zeroPoint, inner, qmin, qmax);
        plainQuantizeInto(data, want, scale, zeroPoint, inner, qmin, qmax);
        // toEqual walks millions of elements generically (tens of seconds); report the first mismatch instead.
        const at = want.findIndex((w, i) => got[i] !== w);
        expect(at === -1 ? null : { channels, inner, outer, at, value: data[at], got: got[at], want: want[at] }).toBeNull();
      }
    });

    it(`${name}: with per-channel factors (a folded BatchNorm), fround(x · factor) quantized, both layouts`, () => {
      for (const [channels, inner, outer] of [[64, 27, 1], [7, 13, 3], [1536, 1, 40], [35, 9, 2], [3, 100_003, 1]] as const) {
        const scale = Float32Array.from({ length: channels }, (_, c) => 0.01 * (c + 1) + 1e-3);
        const zeroPoint = Int32Array.from({ length: channels }, (_, c) => (qmin === 0 ? 100 + (c % 9) : 0));
        const factor = Float32Array.from({ length: channels }, (_, c) => [1.7, -0.3, 0, 2.5e-3, -4][c % 5]!);
        const n = channels * inner * outer;
        const data = tricky(n, n + 1, scale, inner);
        const got = new Out(n);
        const want = new Out(n);
        const product = new Out(n);
        quantizeInto(data, got, scale, zeroPoint, inner, qmin, qmax, factor);
        plainQuantizeInto(data, want, scale, zeroPoint, inner, qmin, qmax, factor);
        const scaled = new Float32Array(n);
        plainScaleChannels(data, scaled, factor, inner);
        plainQuantizeInto(scaled, product, scale, zeroPoint, inner, qmin, qmax);
        const at = want.findIndex((w, i) => got[i] !== w || product[i] !== w);
        expect(at === -1 ? null : { channels, inner, outer, at, value: data[at], got: got[at], want: want[at], product: product[at] }).toBeNull();
      }
    });

    it(`${name}: the bytes of a weight at an unaligned offset quantize as its values, both layouts`, () => {
      for (const [channels, inner, outer] of [[64, 9, 1], [48, 1, 33]] as const) {
        const scale = Float32Array.from({ length: channels }, (_, c) => 0.02 * (c + 1));
        const zeroPoint = Int32Array.from({ length: channels }, (_, c) => (qmin === 0 ? 120 + (c % 7) : 0));
        const n = channels * inner * outer;
        const data = tricky(n, 7, scale, inner);
        const bytes = new Uint8Array(4 * n + 1).subarray(1);
        bytes.set(new Uint8Array(data.buffer));
        const got = new Out(n);
        const want = new Out(n);
        quantizeInto(bytes, got, scale, zeroPoint, inner, qmin, qmax);
        plainQuantizeInto(data, want, scale, zeroPoint, inner, qmin, qmax);
        expect(want.findIndex((w, i) => got[i] !== w)).toBe(-1);
      }
    });
  }
});

describe('quantize-weights.wasm.ts', () => {
  it('is quantize-weights.wat as wabt compiles it (regenerate: npm run gen:wasm)', async () => {
    expect(Array.from(QUANTIZE_WEIGHTS_WASM)).toEqual(Array.from(await compileQuantizeWeights()));
  });
});

describe('scaleChannels', () => {
  it('runs in WebAssembly here', () => {
    expect(simdScaleAvailable()).toBe(true);
  });

  it('is the plain loop on both layouts (runs, and across rows), for array and unaligned-byte input', () => {
    // [channels, inner, outer]: Conv along K, odd lengths, MatMul / Gemm [K, N] along N, ConvTranspose along Cout, chunks.
    for (const [channels, inner, outer] of [[64, 27, 1], [7, 13, 1], [1536, 1, 384], [1001, 1, 3], [35, 9, 2], [5, 700_001, 1], [1000, 1, 2100], [100_003, 1, 3]] as const) {
      const n = channels * inner * outer;
      const data = random(n, n);
      data[0] = NaN;
      data[1 % n] = -0;
      data[2 % n] = Infinity;
      const factor = Float32Array.from(random(channels, channels), (x) => x * 3);
      const want = new Float32Array(n);
      plainScaleChannels(data, want, factor, inner);
      const bytes = new Uint8Array(4 * n + 2).subarray(2);
      bytes.set(new Uint8Array(data.buffer));
      for (const got of [scaleChannels(data, factor, inner), scaleChannels(bytes, factor, inner)]) {
        // Object.is: -0 and NaN compare as values, bit for bit otherwise.
        const at = want.findIndex((w, i) => !Object.is(got[i], w));
        expect(at === -1 ? null : { channels, inner, outer, at, got: got[at], want: want[at] }).toBeNull();
      }
    }
  });
});

describe('scale-channels.wasm.ts', () => {
  it('is scale-channels.wat as wabt compiles it (regenerate: npm run gen:wasm)', async () => {
    expect(Array.from(SCALE_CHANNELS_WASM)).toEqual(Array.from(await compileScaleChannels()));
  });
});
