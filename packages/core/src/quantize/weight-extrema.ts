import { WEIGHT_EXTREMA_WASM } from './wasm/weight-extrema.wasm.js';
import { lazyWasm } from '../util/wasm.js';
import { CHUNK_VALUES as CHUNK, forEachChunk, growTo, type GrowableMemory } from './channel-chunks.js';

/**
 * Per-channel extrema of a weight: channel c's min and max over the segments of `inner`
 * values s = c, c + channels, c + 2·channels, ... of `data` (for an axis-0 weight, simply
 * its c-th run of `inner` values), both starting from 0 (so min <= 0 <= max). The result of
 * the plain loop `if (x < lo) lo = x; if (x > hi) hi = x` (NaN skipped), computed four
 * values at a time in WebAssembly (./wasm/weight-extrema.wat) where available (ResNet-50's
 * insertQdq: ~70 → ~27 ms).
 */
export function channelExtrema(data: Float32Array, channels: number, inner: number): { min: Float32Array; max: Float32Array } {
  const min = new Float32Array(channels);
  const max = new Float32Array(channels);
  if (data.length === 0) return { min, max };
  const simd = wasmExtrema();
  if (simd === null || !simd.run(data, channels, inner, min, max)) plainExtrema(data, channels, inner, min, max);
  return { min, max };
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
}
interface Simd {
  /** False when the module's memory cannot hold the channels' extrema. */
  run(data: Float32Array, channels: number, inner: number, min: Float32Array, max: Float32Array): boolean;
}

/** Null without WebAssembly (or SIMD). */
const wasmExtrema = lazyWasm<Exports, Simd>(WEIGHT_EXTREMA_WASM, (x) => {
  const out = CHUNK * 4; // the values first, then the extrema
  return {
    run(data, channels, inner, min, max) {
      if (!growTo(x.memory, out + 8 * channels)) return false;
      const buf = x.memory.buffer;
      const values = new Float32Array(buf, 0, CHUNK);
      new Float32Array(buf, out, 2 * channels).fill(0);
      forEachChunk(data.length, channels, inner, CHUNK, (from, to, segment, c) => {
        values.set(data.subarray(from, to));
        x.extrema(to - from, segment, channels, c, out);
      });
      min.set(new Float32Array(buf, out, channels));
      max.set(new Float32Array(buf, out + 4 * channels, channels));
      return true;
    },
  };
});
