import { SCALE_CHANNELS_WASM } from './wasm/scale-channels.wasm.js';
import { lazyWasm } from '../util/wasm.js';
import {
  acrossRow, chunkFor, bytesOf, float32Of, forEachChunk, forEachRowChunk, growTo, valueCount,
  type Float32Source, type GrowableMemory,
} from './channel-chunks.js';

/**
 * `data` times one factor per channel, into a new array: element i times
 * factor[⌊i / inner⌋ mod factor.length], rounded to float32 as a Float32Array store of
 * `x * s` rounds it (FoldBatchNorm). In WebAssembly (./wasm/scale-channels.wat), four
 * values at a time, along contiguous channel runs or across rows for short runs; else
 * `plainScaleChannels`.
 */
export function scaleChannels(data: Float32Source, factor: Float32Array, inner: number): Float32Array {
  const out = new Float32Array(valueCount(data));
  if (out.length > 0 && wasmScale()?.run(bytesOf(data), out, factor, inner)) return out;
  plainScaleChannels(float32Of(data), out, factor, inner);
  return out;
}

/** Whether scaleChannels runs in WebAssembly here (else the plain loop). */
export function simdScaleAvailable(): boolean {
  return wasmScale() !== null;
}

/** The plain loop (without WebAssembly, and the reference of the tests); `out` may be `data`. */
export function plainScaleChannels(data: Float32Array, out: Float32Array, factor: Float32Array, inner: number): void {
  const channels = factor.length;
  for (let start = 0, c = 0; start < data.length; start += inner, c = c + 1 === channels ? 0 : c + 1) {
    const s = factor[c]!;
    const end = Math.min(data.length, start + inner);
    for (let i = start; i < end; i++) out[i] = data[i]! * s;
  }
}

interface Exports {
  memory: GrowableMemory;
  scale(n: number, inner: number, channels: number, c0: number, params: number): void;
  across(n: number, row: number, params: number): void;
}
interface Simd {
  /** False when the module's memory cannot hold the factors. */
  run(bytes: Uint8Array, out: Float32Array, factor: Float32Array, inner: number): boolean;
}

const wasmScale = lazyWasm<Exports, Simd>(SCALE_CHANNELS_WASM, (x) => {
  return {
    run(bytes, out, factor, inner) {
      const channels = factor.length;
      const n = out.length;
      const row = acrossRow(n, channels, inner);
      const chunk = chunkFor(row);
      const params = 4 * chunk; // the values, then the factors
      if (!growTo(x.memory, params + 4 * (row || channels))) return false;
      const buf = x.memory.buffer;
      const values = new Uint8Array(buf, 0, 4 * chunk);
      const take = (from: number, to: number) => out.set(new Float32Array(buf, 0, to - from), from);
      if (row === 0) {
        new Float32Array(buf, params, channels).set(factor);
        forEachChunk(n, channels, inner, chunk, (from, to, segment, c) => {
          values.set(bytes.subarray(4 * from, 4 * to));
          x.scale(to - from, segment, channels, c, params);
          take(from, to);
        });
        return true;
      }
      const perPosition = new Float32Array(buf, params, row);
      for (let c = 0; c < channels; c++) perPosition.fill(factor[c]!, c * inner, (c + 1) * inner);
      forEachRowChunk(n, row, chunk, (from, to) => {
        values.set(bytes.subarray(4 * from, 4 * to));
        x.across(to - from, row, params);
        take(from, to);
      });
      return true;
    },
  };
});
