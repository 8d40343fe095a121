import { QUANTIZE_WEIGHTS_WASM } from './wasm/quantize-weights.wasm.js';
import { lazyWasm } from '../util/wasm.js';
import { acrossRow, chunkFor, forEachChunk, forEachRowChunk, growTo, type GrowableMemory } from './channel-chunks.js';

interface Exports {
  memory: GrowableMemory;
  quantize(n: number, inner: number, channels: number, c0: number, out: number, params: number, qmin: number, qmax: number, signed: number): void;
  across(n: number, row: number, out: number, params: number, qmin: number, qmax: number, signed: number): void;
}

/** A weight quantizer in WebAssembly (./wasm/quantize-weights.wat), four values at a time. */
export interface SimdQuantizer {
  /**
   * `quantizeInto` (rounding.ts) of the float32 values in `bytes` (little-endian); false
   * when the module's memory cannot hold the channels' parameters.
   */
  run(bytes: Uint8Array, out: Int8Array | Uint8Array, scale: Float32Array, zeroPoint: Int32Array, factor: Float32Array, inner: number, qmin: number, qmax: number): boolean;
}

/** The WebAssembly weight quantizer; null without WebAssembly (or SIMD). */
export const simdQuantizer = lazyWasm<Exports, SimdQuantizer>(QUANTIZE_WEIGHTS_WASM, (x) => {
  return {
    run(bytes, out, scale, zeroPoint, factor, inner, qmin, qmax) {
      const channels = scale.length;
      const n = bytes.byteLength >> 2;
      const row = acrossRow(n, channels, inner);
      const chunk = chunkFor(row);
      const ints = 4 * chunk; // the values, then the integers, then the parameters (8-byte aligned)
      const params = (ints + chunk + 7) & ~7;
      if (!growTo(x.memory, params + (row ? 20 * row : 12 * channels))) return false;
      const buf = x.memory.buffer;
      const values = new Uint8Array(buf, 0, 4 * chunk);
      const signed = out instanceof Int8Array ? 1 : 0;
      const take = (from: number, to: number) => out.set(signed ? new Int8Array(buf, ints, to - from) : new Uint8Array(buf, ints, to - from), from);
      if (row === 0) {
        new Float32Array(buf, params, channels).set(scale);
        new Int32Array(buf, params + 4 * channels, channels).set(zeroPoint);
        new Float32Array(buf, params + 8 * channels, channels).set(factor);
        forEachChunk(n, channels, inner, chunk, (from, to, segment, c) => {
          values.set(bytes.subarray(4 * from, 4 * to));
          x.quantize(to - from, segment, channels, c, ints, params, qmin, qmax, signed);
          take(from, to);
        });
        return true;
      }
      // Each position of a row gets its channel's 1 / scale and zero point (float64) and factor.
      const inv = new Float64Array(buf, params, row);
      const zero = new Float64Array(buf, params + 8 * row, row);
      const f = new Float32Array(buf, params + 16 * row, row);
      for (let c = 0, j = 0; c < channels; c++) {
        inv.fill(1 / scale[c]!, j, j + inner);
        zero.fill(zeroPoint[c]!, j, j + inner);
        f.fill(factor[c]!, j, j + inner);
        j += inner;
      }
      forEachRowChunk(n, row, chunk, (from, to) => {
        values.set(bytes.subarray(4 * from, 4 * to));
        x.across(to - from, row, ints, params, qmin, qmax, signed);
        take(from, to);
      });
      return true;
    },
  };
});
