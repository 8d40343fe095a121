import { simdQuantizer } from './quantize-weights.js';
import { bytesOf, float32Of, valueCount, type Float32Source } from './channel-chunks.js';

/** 1.5 · 2^52: adding and subtracting it rounds a double to an integer, ties to even. */
const MAGIC = 6755399441055744;

/**
 * Round half to even, as ONNX QuantizeLinear and TensorRT do. IEEE addition already
 * rounds ties to even, so the magic-number trick does it branch-free (|x| < 2^51).
 */
export function roundHalfEven(x: number): number {
  return x + MAGIC - MAGIC;
}

/**
 * Quantizes `data` to integers with one scale / zero point per channel, where the
 * channel of element i is ⌊i / inner⌋ mod channels (per-tensor: channels = 1):
 * clamp(roundHalfEven(x / scale) + zeroPoint, qmin, qmax), NaN to 0, with
 * x = fround(data[i] · factor[channel]) when `factor` is given (a BatchNorm folded into a
 * weight that was never written out: `Tensor.channelFactors`). In WebAssembly, four values
 * at a time, where available (the same arithmetic: ResNet-50's export, toExportModel,
 * ~112 → ~50 ms), along contiguous channel runs or across rows for short runs (MatMul
 * [K, N] along N); else `plainQuantizeInto`.
 */
export function quantizeInto(
  data: Float32Source, out: Int8Array | Uint8Array, scale: Float32Array, zeroPoint: Int32Array,
  inner: number, qmin: number, qmax: number, factor?: Float32Array,
): void {
  const f = factor ?? new Float32Array(scale.length).fill(1);
  if (valueCount(data) > 0 && simdQuantizer()?.run(bytesOf(data), out, scale, zeroPoint, f, inner, qmin, qmax)) return;
  plainQuantizeInto(float32Of(data), out, scale, zeroPoint, inner, qmin, qmax, factor);
}

/** `quantizeInto` as a plain loop (without WebAssembly, and the reference of the tests). */
export function plainQuantizeInto(
  data: Float32Array, out: Int8Array | Uint8Array, scale: Float32Array, zeroPoint: Int32Array,
  inner: number, qmin: number, qmax: number, factor?: Float32Array,
): void {
  const channels = scale.length;
  const n = data.length;
  for (let start = 0, c = 0; start < n; start += inner, c = c + 1 === channels ? 0 : c + 1) {
    const inv = 1 / scale[c]!;
    const z = zeroPoint[c]!;
    const f = factor ? factor[c]! : 1; // fround(x · 1) is x for every float32 x
    const end = Math.min(n, start + inner);
    for (let i = start; i < end; i++) {
      // Math.min/max compile to branch-free min/max instructions (faster than ?: here).
      out[i] = Math.min(qmax, Math.max(qmin, Math.fround(data[i]! * f) * inv + MAGIC - MAGIC + z));
    }
  }
}

export function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}
