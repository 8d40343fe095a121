import { DataType, fp16ToNumber } from '../ir/dtype.js';

/** The reduced float types a strongly typed export can use, and FP32 (no change). */
export type FloatPrecision = 'fp32' | 'fp16' | 'bf16';

/** ONNX element type of a float precision. */
export function floatTypeCode(p: FloatPrecision): number {
  return p === 'fp16' ? DataType.FLOAT16 : p === 'bf16' ? DataType.BFLOAT16 : DataType.FLOAT;
}

/** The largest finite value of each type (FP16: 65504; BF16 has FP32's range). */
export const FLOAT_MAX: Record<FloatPrecision, number> = { fp32: 3.4028234663852886e38, fp16: 65504, bf16: 3.3895313892515355e38 };

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → IEEE half bits, round to nearest even; beyond ±65504 gives ±Infinity (callers check the range first). */
export function toFloat16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half: shift the implicit-1 mantissa into place, rounding half to even.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa rolls into the exponent, as it should (up to Infinity).
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

/** float32 → bfloat16 bits, round to nearest even (NaN stays NaN). */
export function toBfloat16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff)) return (b >>> 16) | 0x40;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

function bf16ToNumber(h: number): number {
  u32[0] = h << 16;
  return f32[0]!;
}

/** float32 values as the bits of `p` (Uint16Array for fp16/bf16). */
export function encodeFloats(values: Float32Array, p: 'fp16' | 'bf16'): Uint16Array {
  const enc = p === 'fp16' ? toFloat16Bits : toBfloat16Bits;
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = enc(values[i]!);
  return out;
}

/** The float32 values `p` can hold nearest to `values` (what storing them in `p` keeps). */
export function roundFloats(values: Float32Array, p: 'fp16' | 'bf16'): Float32Array {
  const enc = p === 'fp16' ? toFloat16Bits : toBfloat16Bits;
  const dec = p === 'fp16' ? fp16ToNumber : bf16ToNumber;
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = dec(enc(values[i]!));
  return out;
}
