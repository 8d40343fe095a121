import { WEIGHT_EXTREMA_WASM } from './wasm/weight-extrema.wasm.js';
import { lazyWasm } from '../util/wasm.js';
import {
  acrossRow, chunkFor, bytesOf, float32Of, forEachChunk, forEachRowChunk, growTo, valueCount,
  type Float32Source, type GrowableMemory,
} from './channel-chunks.js';

/**
 * Per-channel extrema of a weight: channel c's min and max over the segments of `inner`
 * values s = c, c + channels, c + 2·channels, ... of `data` (for an axis-0 weight, simply
 * its c-th run of `inner` values), both starting from 0 (so min <= 0 <= max). The result of
 * the plain loop `if (x < lo) lo = x; if (x > hi) hi = x` (NaN skipped), computed four
 * values at a time in WebAssembly (./wasm/weight-extrema.wat) where available (ResNet-50's
 * insertQdq: ~70 → ~27 ms), along contiguous runs or, for short runs (MatMul [K, N] along
 * N), across rows (`acrossRow`).
 */
export function channelExtrema(data: Float32Source, channels: number, inner: number): { min: Float32Array; max: Float32Array } {
  const min = new Float32Array(channels);
  const max = new Float32Array(channels);
  if (valueCount(data) === 0) return { min, max };
  const simd = wasmExtrema();
  if (simd === null || !simd.run(bytesOf(data), channels, inner, min, max)) plainExtrema(float32Of(data), channels, inner, min, max);
  return { min, max };
}

/**
 * `channelExtrema` of base · factor (each value rounded to float32; channel c of the
 * factor covers the segments of `inner` values s ≡ c mod factor.length) without forming
 * the product: rounding is monotone, so channel c's extrema are base's times factor[c]
 * (swapped when it is negative; a NaN product means no value on that side: 0). With
 * `channels` = 1 the channels merge into one (per-tensor). Exactly the extrema of the
 * product (tested), for a `Tensor.scaled` weight (a folded BatchNorm).
 */
export function scaledChannelExtrema(base: Float32Source, factor: Float32Array, inner: number, channels: number): { min: Float32Array; max: Float32Array } {
  const { min, max } = channelExtrema(base, factor.length, inner);
  const at = (x: number) => (x === 0 || Number.isNaN(x) ? 0 : x); // -0 and NaN: the start value 0
  for (let c = 0; c < factor.length; c++) {
    const s = factor[c]!;
    const a = at(Math.fround(min[c]! * s));
    const b = at(Math.fround(max[c]! * s));
    min[c] = s < 0 ? b : a;
    max[c] = s < 0 ? a : b;
  }
  if (channels === factor.length) return { min, max };
  if (channels !== 1) throw new Error(`scaledChannelExtrema: ${channels} channels, factors for ${factor.length}`);
  return { min: Float32Array.of(min.reduce((a, b) => Math.min(a, b), 0)), max: Float32Array.of(max.reduce((a, b) => Math.max(a, b), 0)) };
}

/** Whether channelExtrema runs in WebAssembly here (else the plain loop). */
export function simdExtremaAvailable(): boolean {
  return wasmExtrema() !== null;
}

/** The plain loop (without WebAssembly, and the reference of the tests). */
export function plainExtrema(data: Float32Array, channels: number, inner: number, min: Float32Array, max: Float32Array): void {
  for (let start = 0, c = 0; start < data.length; start += inner, c = c + 1 === channels ? 0 : c + 1) {
    let lo = min[c]!;
    let hi = max[c]!;
    const end = Math.min(data.length, start + inner);
    for (let i = start; i < end; i++) {
      const x = data[i]!;
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    min[c] = lo;
    max[c] = hi;
  }
}

interface Exports {
  memory: GrowableMemory;
  extrema(n: number, inner: number, channels: number, c0: number, out: number): void;
  across(n: number, row: number, acc: number): void;
}
interface Simd {
  /** False when the module's memory cannot hold the channels' extrema. */
  run(bytes: Uint8Array, channels: number, inner: number, min: Float32Array, max: Float32Array): boolean;
}

/** Null without WebAssembly (or SIMD). */
const wasmExtrema = lazyWasm<Exports, Simd>(WEIGHT_EXTREMA_WASM, (x) => {
  return {
    run(bytes, channels, inner, min, max) {
      const n = bytes.byteLength >> 2;
      const row = acrossRow(n, channels, inner);
      const chunk = chunkFor(row);
      const out = 4 * chunk; // the values first, then the extrema
      const slots = row || channels; // extrema kept per position of a row, or per channel
      if (!growTo(x.memory, out + 8 * slots)) return false;
      const buf = x.memory.buffer;
      const values = new Uint8Array(buf, 0, 4 * chunk);
      const lo = new Float32Array(buf, out, slots).fill(0);
      const hi = new Float32Array(buf, out + 4 * slots, slots).fill(0);
      if (row === 0) {
        forEachChunk(n, channels, inner, chunk, (from, to, segment, c) => {
          values.set(bytes.subarray(4 * from, 4 * to));
          x.extrema(to - from, segment, channels, c, out);
        });
        min.set(lo);
        max.set(hi);
        return true;
      }
      forEachRowChunk(n, row, chunk, (from, to) => {
        values.set(bytes.subarray(4 * from, 4 * to));
        x.across(to - from, row, out);
      });
      // Positions into channels: channel c holds positions [c·inner, (c+1)·inner) of a row.
      for (let c = 0, j = 0; c < channels; c++) {
        let a = 0;
        let b = 0;
        for (const end = j + inner; j < end; j++) {
          if (lo[j]! < a) a = lo[j]!;
          if (hi[j]! > b) b = hi[j]!;
        }
        min[c] = a;
        max[c] = b;
      }
      return true;
    },
  };
});
