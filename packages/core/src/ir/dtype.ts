/** ONNX TensorProto.DataType codes and the typed arrays that hold them. */
export const DataType = {
  UNDEFINED: 0, FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8,
  BOOL: 9, FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, COMPLEX64: 14, COMPLEX128: 15, BFLOAT16: 16,
  FLOAT8E4M3FN: 17, FLOAT8E4M3FNUZ: 18, FLOAT8E5M2: 19, FLOAT8E5M2FNUZ: 20, UINT4: 21, INT4: 22,
  FLOAT4E2M1: 23, FLOAT8E8M0: 24, UINT2: 25, INT2: 26,
} as const;
export type DataTypeCode = number;

export type TypedArray =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array
  | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

const NAMES: Record<number, string> = Object.fromEntries(Object.entries(DataType).map(([k, v]) => [v, k.toLowerCase()]));

export function dataTypeName(code: DataTypeCode): string {
  return NAMES[code] ?? `dtype(${code})`;
}

/** Bytes per element, or 0 for types without a fixed size (string) or below a byte (int4, int2: see `elementsPerByte`). */
export function bytesPerElement(code: DataTypeCode): number {
  switch (code) {
    case DataType.FLOAT: case DataType.INT32: case DataType.UINT32: return 4;
    case DataType.UINT8: case DataType.INT8: case DataType.BOOL: return 1;
    case DataType.FLOAT8E4M3FN: case DataType.FLOAT8E4M3FNUZ: case DataType.FLOAT8E5M2: case DataType.FLOAT8E5M2FNUZ: case DataType.FLOAT8E8M0: return 1;
    case DataType.UINT16: case DataType.INT16: case DataType.FLOAT16: case DataType.BFLOAT16: return 2;
    case DataType.INT64: case DataType.UINT64: case DataType.DOUBLE: case DataType.COMPLEX64: return 8;
    case DataType.COMPLEX128: return 16;
    default: return 0;
  }
}

/** Elements packed into one byte: 2 for the 4-bit types, 4 for the 2-bit ones, else 0. */
export function elementsPerByte(code: DataTypeCode): number {
  switch (code) {
    case DataType.UINT4: case DataType.INT4: case DataType.FLOAT4E2M1: return 2;
    case DataType.UINT2: case DataType.INT2: return 4;
    default: return 0;
  }
}

/** Bytes that `n` elements take in raw_data (packed types round up to whole bytes); 0 when not fixed (string). */
export function storageBytes(code: DataTypeCode, n: number): number {
  const per = elementsPerByte(code);
  return per ? Math.ceil(n / per) : n * bytesPerElement(code);
}

type ArrayCtor = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray; new (length: number): TypedArray; BYTES_PER_ELEMENT: number };

/** The typed array constructor that holds a data type's elements (fp16/bf16 as raw Uint16). */
export function arrayTypeFor(code: DataTypeCode): ArrayCtor {
  switch (code) {
    case DataType.FLOAT: return Float32Array as unknown as ArrayCtor;
    case DataType.DOUBLE: return Float64Array as unknown as ArrayCtor;
    case DataType.INT8: return Int8Array as unknown as ArrayCtor;
    // 8-bit floats as their raw bits; packed sub-byte types as their packed bytes (see Tensor.data).
    case DataType.UINT8: case DataType.BOOL:
    case DataType.FLOAT8E4M3FN: case DataType.FLOAT8E4M3FNUZ: case DataType.FLOAT8E5M2: case DataType.FLOAT8E5M2FNUZ: case DataType.FLOAT8E8M0:
    case DataType.UINT4: case DataType.INT4: case DataType.FLOAT4E2M1: case DataType.UINT2: case DataType.INT2:
      return Uint8Array as unknown as ArrayCtor;
    case DataType.INT16: return Int16Array as unknown as ArrayCtor;
    case DataType.UINT16: case DataType.FLOAT16: case DataType.BFLOAT16: return Uint16Array as unknown as ArrayCtor;
    case DataType.INT32: return Int32Array as unknown as ArrayCtor;
    case DataType.UINT32: return Uint32Array as unknown as ArrayCtor;
    case DataType.INT64: return BigInt64Array as unknown as ArrayCtor;
    case DataType.UINT64: return BigUint64Array as unknown as ArrayCtor;
    default: throw new Error(`no typed array for ONNX data type ${dataTypeName(code)}`);
  }
}

export function dataTypeOfArray(a: TypedArray): DataTypeCode {
  if (a instanceof Float32Array) return DataType.FLOAT;
  if (a instanceof Float64Array) return DataType.DOUBLE;
  if (a instanceof Int8Array) return DataType.INT8;
  if (a instanceof Uint8Array) return DataType.UINT8;
  if (a instanceof Int16Array) return DataType.INT16;
  if (a instanceof Uint16Array) return DataType.UINT16;
  if (a instanceof Int32Array) return DataType.INT32;
  if (a instanceof Uint32Array) return DataType.UINT32;
  if (a instanceof BigInt64Array) return DataType.INT64;
  return DataType.UINT64;
}

/** Half-precision bits → number. */
export function fp16ToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}
