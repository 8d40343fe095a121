import { DataType, arrayTypeFor, dataTypeName, dataTypeOfArray, elementsPerByte, fp16ToNumber, storageBytes, type DataTypeCode, type TypedArray } from './dtype.js';
import { isSmallType, smallTypeToFloat32 } from './small-types.js';
import type { TensorProto } from '../onnx/proto.js';
import { toBigInt, toNumber } from '../onnx/proto.js';
import type { ExternalDataRef } from '../onnx/external-data.js';
import { readExternalData } from '../onnx/external-data.js';
import { scaleChannels } from '../quantize/scale-channels.js';

/** Where a tensor's bytes live until someone asks for them. */
type Source =
  | { kind: 'proto'; proto: TensorProto }
  | { kind: 'array'; array: TypedArray }
  | { kind: 'external'; ref: ExternalDataRef; proto: TensorProto }
  | { kind: 'scaled'; base: Tensor; factor: Float32Array; inner: number };

/** A float32 tensor's elements as a product not yet computed: element i is fround(base[i] · factor[⌊i / inner⌋ mod factor.length]). */
export interface ChannelFactors {
  /** The base values (as `toFloat32OrBytes` gives them). */
  base: Float32Array | Uint8Array;
  factor: Float32Array;
  inner: number;
}

/**
 * Constant tensor data (an initializer, or a Constant node's value). Immutable: a rewrite
 * makes a new Tensor, so cloned graphs can share data. Bytes are decoded lazily, and
 * little-endian raw data is viewed in place rather than copied where alignment allows.
 */
export class Tensor {
  readonly dims: readonly number[];
  readonly dataType: DataTypeCode;
  private source: Source;
  private cached: TypedArray | null = null;

  private constructor(dataType: DataTypeCode, dims: readonly number[], source: Source) {
    this.dataType = dataType;
    this.dims = dims;
    this.source = source;
  }

  /** `array` holds the elements; for the packed 4- and 2-bit types, their packed bytes (see `data`). */
  static fromArray(array: TypedArray, dims: readonly number[], dataType?: DataTypeCode): Tensor {
    const n = dims.reduce((a, b) => a * b, 1);
    const want = dataType !== undefined && elementsPerByte(dataType) ? storageBytes(dataType, n) : n;
    if (want !== array.length) throw new Error(`Tensor.fromArray: ${array.length} elements do not fill dims [${dims.join(',')}]`);
    const t = new Tensor(dataType ?? dataTypeOfArray(array), [...dims], { kind: 'array', array });
    t.cached = array;
    return t;
  }

  /**
   * A float32 tensor equal to `base` times one factor per channel (channel of element i:
   * ⌊i / inner⌋ mod factor.length), rounded to float32 as a Float32Array store rounds it.
   * The product is computed on first use of the data; until then the weight kernels read
   * `channelFactors()` and fold the factor into their own pass. A folded BatchNorm is the
   * case: its weights are usually only quantized and written as int8, so the float
   * product never needs a fresh buffer of its own (~10 µs a page fault on a loaded VM).
   */
  static scaled(base: Tensor, factor: Float32Array, inner: number): Tensor {
    if (base.dataType !== DataType.FLOAT) throw new Error(`Tensor.scaled: ${base.describe()} is not float32`);
    const channels = factor.length;
    if (inner <= 0 || base.size % (channels * inner) !== 0) {
      throw new Error(`Tensor.scaled: ${channels} channels of ${inner} values do not tile ${base.describe()}`);
    }
    return new Tensor(DataType.FLOAT, base.dims, { kind: 'scaled', base, factor, inner });
  }

  static fromProto(proto: TensorProto, external?: ExternalDataRef): Tensor {
    const dims = (proto.dims ?? []).map(toNumber);
    const dt = proto.dataType ?? DataType.UNDEFINED;
    return new Tensor(dt, dims, external ? { kind: 'external', ref: external, proto } : { kind: 'proto', proto });
  }

  get size(): number {
    return this.dims.reduce((a, b) => a * b, 1);
  }

  /** Bytes of the data as stored (packed types: whole bytes); 0 for strings. */
  get byteLength(): number {
    return storageBytes(this.dataType, this.size);
  }

  /** Entries of `data()`: the elements, or for the packed 4- and 2-bit types their bytes. */
  private get storageLength(): number {
    return elementsPerByte(this.dataType) ? storageBytes(this.dataType, this.size) : this.size;
  }

  get isExternal(): boolean {
    return this.source.kind === 'external';
  }

  /** Where the bytes live when they are in an external data file. */
  get externalRef(): ExternalDataRef | null {
    return this.source.kind === 'external' ? this.source.ref : null;
  }

  /** The original TensorProto when the data came from a file and was never replaced. */
  get originalProto(): TensorProto | null {
    return this.source.kind === 'proto' || this.source.kind === 'external' ? this.source.proto : null;
  }

  /** For a `Tensor.scaled` whose product was not computed yet: its base values and factors; else null. */
  channelFactors(): ChannelFactors | null {
    const src = this.source;
    if (this.cached || src.kind !== 'scaled') return null;
    return { base: src.base.toFloat32OrBytes(), factor: src.factor, inner: src.inner };
  }

  /**
   * The elements, decoded on first use (fp16/bf16 as raw Uint16 bits, the 8-bit floats as
   * raw Uint8 bits, int64 as BigInt64Array). The 4- and 2-bit types come packed as ONNX
   * stores them: a Uint8Array of ceil(size / 2) (or / 4) bytes, element 0 in the low bits.
   */
  data(): TypedArray {
    if (this.cached) return this.cached;
    const Ctor = arrayTypeFor(this.dataType);
    const src = this.source;
    let out: TypedArray;
    if (src.kind === 'array') {
      out = src.array;
    } else if (src.kind === 'external') {
      out = viewBytes(readExternalData(src.ref), Ctor, this.storageLength);
    } else if (src.kind === 'scaled') {
      out = scaleChannels(src.base.toFloat32OrBytes(), src.factor, src.inner);
    } else {
      out = decodeProto(src.proto, this.dataType, Ctor, this.storageLength);
    }
    this.cached = out;
    return out;
  }

  /** The elements as float32 (numeric types only); a view, not a copy, when already float32. */
  toFloat32(): Float32Array {
    const d = this.data();
    if (d instanceof Float32Array) return d;
    if (isSmallType(this.dataType)) return smallTypeToFloat32(this.dataType, d as Uint8Array, this.size);
    const out = new Float32Array(d.length);
    if (this.dataType === DataType.FLOAT16) {
      for (let i = 0; i < d.length; i++) out[i] = fp16ToNumber(Number(d[i]));
    } else if (this.dataType === DataType.BFLOAT16) {
      const u = new Uint32Array(1);
      const f = new Float32Array(u.buffer);
      for (let i = 0; i < d.length; i++) { u[0] = Number(d[i]) << 16; out[i] = f[0]!; }
    } else {
      for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
    }
    return out;
  }

  /**
   * The elements as float32 for one read-only pass (the weight kernels): the array where
   * it exists or is a view, else the raw little-endian bytes of a float32 tensor whose
   * data sits at an unaligned offset of the file. Those kernels copy the values into
   * WebAssembly memory anyway; decoding would copy them once more and keep the copy.
   */
  toFloat32OrBytes(): Float32Array | Uint8Array {
    const src = this.source;
    if (!this.cached && this.dataType === DataType.FLOAT && src.kind === 'proto') {
      const raw = src.proto.rawData;
      const need = this.size * 4;
      if (raw && need > 0 && raw.byteLength >= need && raw.byteOffset % 4 !== 0) return raw.subarray(0, need);
    }
    return this.toFloat32();
  }

  /**
   * A fresh float32 copy of the elements, to modify. Float raw data that was never decoded
   * is copied straight from its bytes: one copy, not two (decoding an unaligned tensor
   * copies it to view it), and no decoded copy kept on this tensor.
   */
  toFloat32Copy(): Float32Array {
    const src = this.source;
    if (!this.cached && this.dataType === DataType.FLOAT && src.kind !== 'array') {
      const need = this.size * 4;
      if (src.kind === 'external') {
        // A fresh buffer read from the file: ours to keep, viewed in place.
        const bytes = readExternalData(src.ref);
        if (bytes.byteLength >= need && bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, this.size);
      } else if (src.kind === 'scaled') {
        return scaleChannels(src.base.toFloat32OrBytes(), src.factor, src.inner); // a fresh product
      } else if (src.proto.rawData && src.proto.rawData.byteLength >= need && need > 0) {
        const out = new Float32Array(this.size);
        new Uint8Array(out.buffer).set(src.proto.rawData.subarray(0, need));
        return out;
      }
    }
    const d = this.data();
    return d instanceof Float32Array ? d.slice() : this.toFloat32();
  }

  /** Small integer tensors (shapes, axes) as plain numbers. */
  toNumbers(): number[] {
    if (isSmallType(this.dataType)) return Array.from(this.toFloat32());
    const d = this.data();
    return Array.from(d as ArrayLike<number | bigint>, (x) => Number(x));
  }

  /** Little-endian bytes of the data (a view when possible). */
  rawBytes(): Uint8Array {
    const d = this.data();
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  }

  describe(): string {
    return `${dataTypeName(this.dataType)}[${this.dims.join(',')}]`;
  }
}

function viewBytes(bytes: Uint8Array, Ctor: ReturnType<typeof arrayTypeFor>, n: number): TypedArray {
  const need = n * Ctor.BYTES_PER_ELEMENT;
  if (bytes.byteLength < need) throw new Error(`tensor data has ${bytes.byteLength} bytes, expected ${need}`);
  if (bytes.byteOffset % Ctor.BYTES_PER_ELEMENT === 0) return new Ctor(bytes.buffer, bytes.byteOffset, n);
  const copy = new Uint8Array(need);
  copy.set(bytes.subarray(0, need));
  return new Ctor(copy.buffer, 0, n);
}

function decodeProto(p: TensorProto, dt: DataTypeCode, Ctor: ReturnType<typeof arrayTypeFor>, n: number): TypedArray {
  if (p.rawData && p.rawData.length > 0) return viewBytes(p.rawData, Ctor, n);
  const out = new Ctor(n);
  let src: ArrayLike<unknown> | null | undefined;
  switch (dt) {
    case DataType.FLOAT: case DataType.COMPLEX64: src = p.floatData; break;
    case DataType.DOUBLE: case DataType.COMPLEX128: src = p.doubleData; break;
    case DataType.INT64: src = p.int64Data; break;
    case DataType.UINT64: case DataType.UINT32: src = p.uint64Data; break;
    default: src = p.int32Data; // int8/uint8/int16/uint16/int32/bool/fp16/bf16/fp8 (one each), int4/fp4 (a byte of two), int2 (a byte of four)
  }
  const len = src?.length ?? 0;
  if (len !== n) {
    if (n === 0) return out;
    throw new Error(`tensor "${p.name ?? ''}" has ${len} values in its typed field, expected ${n}`);
  }
  if (out instanceof BigInt64Array || out instanceof BigUint64Array) {
    for (let i = 0; i < n; i++) out[i] = toBigInt(src![i]);
  } else {
    for (let i = 0; i < n; i++) (out as Float32Array)[i] = toNumber(src![i]);
  }
  return out;
}
