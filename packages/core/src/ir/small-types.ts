import { DataType, elementsPerByte, type DataTypeCode } from './dtype.js';

/**
 * Values of the ONNX types narrower than 16 bits that no typed array holds: the four FLOAT8
 * formats, FLOAT8E8M0, FLOAT4E2M1 and the packed INT4/UINT4/INT2/UINT2. Each code maps
 * through a table built once from the format's definition (ONNX's docs/Float8.md, the OCP
 * MX spec for E8M0 and FP4).
 */

type Special = 'ieee' | 'fn' | 'fnuz' | 'none';

/** A minifloat's value from its bits: sign, `e` exponent bits, `m` mantissa bits. */
function minifloat(bits: number, e: number, m: number, bias: number, special: Special): number {
  const signBit = 1 << (e + m);
  if (special === 'fnuz' && bits === signBit) return NaN; // the only NaN; there is no -0
  const sign = bits & signBit ? -1 : 1;
  const exp = (bits >> m) & ((1 << e) - 1);
  const man = bits & ((1 << m) - 1);
  const expMax = (1 << e) - 1;
  if (special === 'ieee' && exp === expMax) return man === 0 ? sign * Infinity : NaN;
  if (special === 'fn' && exp === expMax && man === (1 << m) - 1) return NaN;
  if (exp === 0) return sign * 2 ** (1 - bias) * (man / (1 << m));
  return sign * 2 ** (exp - bias) * (1 + man / (1 << m));
}

function table(size: number, f: (bits: number) => number): Float32Array {
  return Float32Array.from({ length: size }, (_, i) => f(i));
}

const tables = new Map<DataTypeCode, Float32Array>();

function lookup(code: DataTypeCode): Float32Array | null {
  let t = tables.get(code);
  if (t) return t;
  switch (code) {
    case DataType.FLOAT8E4M3FN: t = table(256, (b) => minifloat(b, 4, 3, 7, 'fn')); break;
    case DataType.FLOAT8E4M3FNUZ: t = table(256, (b) => minifloat(b, 4, 3, 8, 'fnuz')); break;
    case DataType.FLOAT8E5M2: t = table(256, (b) => minifloat(b, 5, 2, 15, 'ieee')); break;
    case DataType.FLOAT8E5M2FNUZ: t = table(256, (b) => minifloat(b, 5, 2, 16, 'fnuz')); break;
    case DataType.FLOAT8E8M0: t = table(256, (b) => (b === 0xff ? NaN : 2 ** (b - 127))); break;
    case DataType.FLOAT4E2M1: t = table(16, (b) => minifloat(b, 2, 1, 1, 'none')); break;
    case DataType.UINT4: t = table(16, (b) => b); break;
    case DataType.INT4: t = table(16, (b) => (b >= 8 ? b - 16 : b)); break;
    case DataType.UINT2: t = table(4, (b) => b); break;
    case DataType.INT2: t = table(4, (b) => (b >= 2 ? b - 4 : b)); break;
    default: return null;
  }
  tables.set(code, t);
  return t;
}

/** Whether `code` is one of the types this file decodes. */
export function isSmallType(code: DataTypeCode): boolean {
  return lookup(code) !== null;
}

/**
 * `n` elements of a small type as float32, from their stored bytes: one byte each for the
 * 8-bit types; packed low bits first (element 0 in bits 0–3, or 0–1) for the 4- and 2-bit ones.
 */
export function smallTypeToFloat32(code: DataTypeCode, bytes: Uint8Array, n: number): Float32Array {
  const t = lookup(code);
  if (!t) throw new Error(`smallTypeToFloat32: data type ${code} is not a small type`);
  const out = new Float32Array(n);
  const per = elementsPerByte(code);
  if (!per) {
    for (let i = 0; i < n; i++) out[i] = t[bytes[i]!]!;
    return out;
  }
  const bits = 8 / per;
  const mask = (1 << bits) - 1;
  for (let i = 0; i < n; i++) out[i] = t[(bytes[Math.floor(i / per)]! >> ((i % per) * bits)) & mask]!;
  return out;
}
