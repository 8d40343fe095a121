import { QUANTIZE_WEIGHTS_WASM } from './wasm/quantize-weights.wasm.js';
import { lazyWasm } from '../util/wasm.js';
import { CHUNK_VALUES as CHUNK, forEachChunk, growTo, type GrowableMemory } from './channel-chunks.js';

interface Exports {
  memory: GrowableMemory;
  quantize(n: number, inner: number, channels: number, c0: number, out: number, params: number, qmin: number, qmax: number, signed: number): void;
}

/** A weight quantizer in WebAssembly (./wasm/quantize-weights.wat), four values at a time. */
export interface SimdQuantizer {
  /** `quantizeInto` (rounding.ts); false when the module's memory cannot hold the channels' parameters. */
  run(data: Float32Array, out: Int8Array | Uint8Array, scale: Float32Array, zeroPoint: Int32Array, inner: number, qmin: number, qmax: number): boolean;
}

/** The WebAssembly weight quantizer; null without WebAssembly (or SIMD). */
export const simdQuantizer = lazyWasm<Exports, SimdQuantizer>(QUANTIZE_WEIGHTS_WASM, (x) => {
  const ints = CHUNK * 4; // the values, then the integers, then the parameters
  const params = ints + CHUNK;
  return {
    run(data, out, scale, zeroPoint, inner, qmin, qmax) {
      const channels = scale.length;
      if (!growTo(x.memory, params + 8 * channels)) return false;
      const buf = x.memory.buffer;
      const values = new Float32Array(buf, 0, CHUNK);
      new Float32Array(buf, params, channels).set(scale);
      new Int32Array(buf, params + 4 * channels, channels).set(zeroPoint);
      const signed = out instanceof Int8Array ? 1 : 0;
      forEachChunk(data.length, channels, inner, CHUNK, (from, to, segment, c) => {
        values.set(data.subarray(from, to));
        x.quantize(to - from, segment, channels, c, ints, params, qmin, qmax, signed);
        out.set(signed ? new Int8Array(buf, ints, to - from) : new Uint8Array(buf, ints, to - from), from);
      });
      return true;
    },
  };
});
