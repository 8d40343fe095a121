/**
 * NumPy .npy files: a header-only open followed by positional row reads, so a data set of
 * many gigabytes is streamed one batch at a time and never loaded whole.
 *
 * Format (numpy.lib.format): magic "\x93NUMPY", major, minor, a little-endian header
 * length (uint16 for 1.0, uint32 for 2.0/3.0), then a Python dict literal
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (512, 1, 28, 28), }` padded so the
 * data starts on a 64-byte boundary (16 in old files). 3.0 headers are UTF-8.
 */
import fs from 'node:fs';
import { NotRegularFileError, openRegularSync } from '../../util/file-kind.js';
import os from 'node:os';
import { DataError } from './errors.js';
import { fp16ToNumber } from '../../ir/dtype.js';

/** Element type stored in the file. */
export type NpyDtype = 'float32' | 'float64' | 'float16' | 'uint8' | 'int8' | 'int32' | 'int64';
/** Element type of the arrays `readRows` returns (float64/float16 become float32). */
export type NpyArrayType = 'float32' | 'uint8' | 'int8' | 'int32' | 'int64';
export type NpyArray = Float32Array | Uint8Array | Int8Array | Int32Array | BigInt64Array;
/** Arrays `writeNpy` accepts. */
export type NpyWritable = Float32Array | Float64Array | Uint8Array | Int8Array | Int32Array | BigInt64Array;

interface DtypeInfo {
  dtype: NpyDtype;
  itemSize: number;
  arrayType: NpyArrayType;
}

const DTYPES: Record<string, DtypeInfo> = {
  f4: { dtype: 'float32', itemSize: 4, arrayType: 'float32' },
  f8: { dtype: 'float64', itemSize: 8, arrayType: 'float32' },
  f2: { dtype: 'float16', itemSize: 2, arrayType: 'float32' },
  u1: { dtype: 'uint8', itemSize: 1, arrayType: 'uint8' },
  i1: { dtype: 'int8', itemSize: 1, arrayType: 'int8' },
  i4: { dtype: 'int32', itemSize: 4, arrayType: 'int32' },
  i8: { dtype: 'int64', itemSize: 8, arrayType: 'int64' },
};
const SUPPORTED = "'<f4', '<f8', '<f2', '|u1', '|i1', '<i4', '<i8'";

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
/** Largest single positional read; a bigger request is split. */
const MAX_READ = 64 * 1024 * 1024;
/** Scratch size used when converting float64/float16 to float32. */
const CONVERT_CHUNK = 4 * 1024 * 1024;

export interface NpyHeader {
  path: string;
  /** Format version, e.g. "1.0". */
  version: string;
  /** The dtype string as written, e.g. "<f4". */
  descr: string;
  dtype: NpyDtype;
  arrayType: NpyArrayType;
  itemSize: number;
  shape: number[];
  /** Leading dimension (1 for a 0-d array). */
  rows: number;
  /** Shape of one row: `shape.slice(1)`. */
  rowShape: number[];
  /** Elements in one row. */
  rowElements: number;
  /** Byte offset where the data begins. */
  dataOffset: number;
  /** Bytes of data the header announces. */
  dataBytes: number;
}

export interface NpyFile extends NpyHeader {
  /**
   * Reads rows [start, start + count) with positional reads of exactly that byte range.
   * float64 and float16 data are converted to float32.
   */
  readRows(start: number, count: number): NpyArray;
  /** Closes the file descriptor (idempotent). */
  close(): void;
}

function fail(path: string, message: string, kind: 'npy-format' | 'npy-truncated' | 'unsupported-dtype' = 'npy-format'): never {
  throw new DataError(kind, `${path}: ${message}`, { path });
}

function formatShape(shape: readonly number[]): string {
  return `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
}

function readFully(fd: number, target: Uint8Array, position: number): number {
  let done = 0;
  while (done < target.byteLength) {
    const len = Math.min(MAX_READ, target.byteLength - done);
    const n = fs.readSync(fd, target, done, len, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** Parses the header dict; exported for tests. */
export function parseNpyHeaderText(path: string, text: string): { descr: string; fortranOrder: boolean; shape: number[] } {
  const t = text.trim();
  if (!t.startsWith('{') || !t.endsWith('}')) fail(path, `unreadable .npy header ${JSON.stringify(t.slice(0, 80))}`);
  const descrList = /['"]descr['"]\s*:\s*\[/.exec(t);
  if (descrList) fail(path, `unsupported dtype: structured arrays (record dtypes) are not supported; supported: ${SUPPORTED}`, 'unsupported-dtype');
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(t);
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(t);
  const shape = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(t);
  if (!descr || !fortran || !shape) {
    const missing = [!descr && "'descr'", !fortran && "'fortran_order'", !shape && "'shape'"].filter(Boolean).join(', ');
    fail(path, `unreadable .npy header (missing ${missing}): ${JSON.stringify(t.slice(0, 120))}`);
  }
  const dims = shape[1]!
    .split(',')
    .map((s) => s.trim().replace(/L$/, ''))
    .filter((s) => s !== '');
  const parsed = dims.map((d) => {
    if (!/^\d+$/.test(d)) fail(path, `unreadable .npy header: bad dimension ${JSON.stringify(d)} in shape (${shape[1]})`);
    const n = Number(d);
    if (!Number.isSafeInteger(n)) fail(path, `unreadable .npy header: dimension ${d} is too large`);
    return n;
  });
  return { descr: descr[1]!, fortranOrder: fortran[1] === 'True', shape: parsed };
}

function resolveDtype(path: string, descr: string): DtypeInfo {
  const m = /^([<>|=]?)([a-zA-Z])(\d+)$/.exec(descr);
  const key = m ? `${m[2]}${m[3]}` : '';
  const info = DTYPES[key];
  if (!m || !info) fail(path, `unsupported dtype '${descr}'; supported: ${SUPPORTED}`, 'unsupported-dtype');
  const order = m[1];
  if (order === '>' && info.itemSize > 1) {
    fail(path, `big-endian data ('${descr}') is not supported; convert it with numpy: np.save(path, arr.astype('<${key}'))`);
  }
  if (order === '=' && os.endianness() !== 'LE') fail(path, `native-order data on a big-endian host is not supported`);
  return info;
}

/** Opens a .npy file for reading; a missing or unreadable file is a DataError naming it. */
function openNpyFd(path: string): number {
  try {
    return openRegularSync(path).fd;
  } catch (err) {
    if (err instanceof NotRegularFileError) throw new DataError('not-found', `${path}: is ${err.kind}, not a .npy file`, { path, cause: err });
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataError('not-found', `${path}: cannot open .npy file (${code ?? String(err)})`, { path, cause: err });
  }
}

/** Reads and checks a .npy header without keeping the file open. */
export function readNpyHeader(path: string): NpyHeader {
  const fd = openNpyFd(path);
  try {
    return readHeaderFd(path, fd);
  } finally {
    fs.closeSync(fd);
  }
}

function readHeaderFd(path: string, fd: number): NpyHeader {
  if (os.endianness() !== 'LE') fail(path, 'reading .npy files needs a little-endian host');
  const size = fs.fstatSync(fd).size;
  const pre = new Uint8Array(Math.min(12, size));
  readFully(fd, pre, 0);
  if (size < MAGIC.length || !MAGIC.equals(pre.subarray(0, MAGIC.length))) {
    const got = Buffer.from(pre.subarray(0, 6)).toString('latin1');
    fail(path, `not a .npy file: bad magic ${JSON.stringify(got)} (expected "\\x93NUMPY")`);
  }
  if (size < 10) fail(path, `truncated .npy header: the file has only ${size} bytes`, 'npy-truncated');
  const major = pre[6]!;
  const minor = pre[7]!;
  if (major !== 1 && major !== 2 && major !== 3) fail(path, `unsupported .npy format version ${major}.${minor} (1.0, 2.0 and 3.0 are supported)`);
  const lenBytes = major === 1 ? 2 : 4;
  if (size < 8 + lenBytes) fail(path, `truncated .npy header: the file has only ${size} bytes`, 'npy-truncated');
  const view = new DataView(pre.buffer, pre.byteOffset, pre.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataOffset = 8 + lenBytes + headerLen;
  if (size < dataOffset) {
    fail(path, `truncated .npy header: header says ${headerLen} header bytes but the file has ${size} bytes in all`, 'npy-truncated');
  }
  const headerBuf = Buffer.alloc(headerLen);
  readFully(fd, headerBuf, 8 + lenBytes);
  const text = headerBuf.toString(major === 3 ? 'utf8' : 'latin1');
  const { descr, fortranOrder, shape } = parseNpyHeaderText(path, text);
  const info = resolveDtype(path, descr);
  if (fortranOrder && shape.filter((d) => d > 1).length > 1) {
    fail(path, `fortran_order (column-major) arrays are not supported; save a C-ordered copy with np.save(path, np.ascontiguousarray(arr))`);
  }
  const elements = shape.reduce((a, b) => a * b, 1);
  const dataBytes = elements * info.itemSize;
  if (!Number.isSafeInteger(dataBytes)) fail(path, `shape ${formatShape(shape)} is too large`);
  const available = size - dataOffset;
  if (available < dataBytes) {
    fail(
      path,
      `truncated data: header says shape ${formatShape(shape)} ${info.dtype} = ${dataBytes} bytes but the file has ${available} (after the ${dataOffset}-byte header)`,
      'npy-truncated',
    );
  }
  const rows = shape.length === 0 ? 1 : shape[0]!;
  const rowShape = shape.slice(1);
  return {
    path,
    version: `${major}.${minor}`,
    descr,
    dtype: info.dtype,
    arrayType: info.arrayType,
    itemSize: info.itemSize,
    shape,
    rows,
    rowShape,
    rowElements: rowShape.reduce((a, b) => a * b, 1),
    dataOffset,
    dataBytes,
  };
}

/** A zeroed typed array of `n` elements of an npy array type. */
export function allocateNpyArray(type: NpyArrayType, n: number): NpyArray {
  switch (type) {
    case 'float32':
      return new Float32Array(n);
    case 'uint8':
      return new Uint8Array(n);
    case 'int8':
      return new Int8Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'int64':
      return new BigInt64Array(n);
  }
}

/** Opens a .npy file: reads and checks the header only; rows are read on demand. */
export function openNpy(path: string): NpyFile {
  const fd = openNpyFd(path);
  let header: NpyHeader;
  try {
    header = readHeaderFd(path, fd);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  let open = true;
  const rowBytes = header.rowElements * header.itemSize;

  const readRows = (start: number, count: number): NpyArray => {
    if (!open) throw new Error(`${path}: readRows after close()`);
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > header.rows) {
      throw new RangeError(`${path}: rows [${start}, ${start + count}) out of range (file has ${header.rows} rows)`);
    }
    const n = count * header.rowElements;
    const position = header.dataOffset + start * rowBytes;
    const out = allocateNpyArray(header.arrayType, n);
    if (header.dtype === header.arrayType) {
      const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
      const got = readFully(fd, bytes, position);
      if (got !== bytes.byteLength) fail(path, `truncated data: expected ${bytes.byteLength} bytes at offset ${position}, read ${got} (file changed?)`, 'npy-truncated');
      return out;
    }
    // float64 / float16 → float32, converted through a bounded scratch buffer.
    const f32 = out as Float32Array;
    const chunkElems = Math.max(1, Math.floor(CONVERT_CHUNK / header.itemSize));
    const scratch = header.dtype === 'float64' ? new Float64Array(Math.min(chunkElems, n)) : new Uint16Array(Math.min(chunkElems, n));
    const scratchBytes = new Uint8Array(scratch.buffer);
    for (let done = 0; done < n; ) {
      const m = Math.min(scratch.length, n - done);
      const want = m * header.itemSize;
      const got = readFully(fd, scratchBytes.subarray(0, want), position + done * header.itemSize);
      if (got !== want) fail(path, `truncated data: expected ${want} bytes at offset ${position + done * header.itemSize}, read ${got} (file changed?)`, 'npy-truncated');
      if (scratch instanceof Float64Array) {
        f32.set(scratch.subarray(0, m), done);
      } else {
        for (let i = 0; i < m; i++) f32[done + i] = fp16ToNumber(scratch[i]!);
      }
      done += m;
    }
    return f32;
  };

  return {
    ...header,
    readRows,
    close() {
      if (open) {
        open = false;
        fs.closeSync(fd);
      }
    },
  };
}

const WRITE_DESCR: Array<[new (...args: never[]) => NpyWritable, string]> = [
  [Float32Array, '<f4'],
  [Float64Array, '<f8'],
  [Uint8Array, '|u1'],
  [Int8Array, '|i1'],
  [Int32Array, '<i4'],
  [BigInt64Array, '<i8'],
];

function descrOf(data: NpyWritable): string {
  for (const [ctor, descr] of WRITE_DESCR) if (data instanceof ctor) return descr;
  throw new TypeError(`writeNpy: unsupported array type ${(data as object).constructor?.name}`);
}

/**
 * Encodes a .npy header (version 1.0, or 2.0 when the dict exceeds 64 KiB) whose length
 * makes the data start on a 64-byte boundary. Useful to stream a large file out in chunks.
 */
export function encodeNpyHeader(descr: string, shape: readonly number[]): Buffer {
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${formatShape(shape)}, }`;
  for (const major of [1, 2]) {
    const pre = 8 + (major === 1 ? 2 : 4);
    const unpadded = pre + dict.length + 1; // + '\n'
    const total = Math.ceil(unpadded / 64) * 64;
    const headerLen = total - pre;
    if (major === 1 && headerLen > 0xffff) continue;
    const out = Buffer.alloc(total, 0x20);
    MAGIC.copy(out, 0);
    out[6] = major;
    out[7] = 0;
    if (major === 1) out.writeUInt16LE(headerLen, 8);
    else out.writeUInt32LE(headerLen, 8);
    out.write(dict, pre, 'latin1');
    out[total - 1] = 0x0a;
    return out;
  }
  throw new Error('unreachable');
}

/** Writes a C-ordered .npy file. The dtype follows the array type. */
export function writeNpy(path: string, data: NpyWritable, shape: readonly number[]): void {
  const elements = shape.reduce((a, b) => a * b, 1);
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0) || elements !== data.length) {
    throw new RangeError(`writeNpy(${path}): shape ${formatShape(shape)} holds ${elements} elements but the array has ${data.length}`);
  }
  const header = encodeNpyHeader(descrOf(data), shape);
  const fd = fs.openSync(path, 'w');
  try {
    fs.writeSync(fd, header);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    for (let done = 0; done < bytes.byteLength; ) {
      done += fs.writeSync(fd, bytes, done, Math.min(MAX_READ, bytes.byteLength - done));
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Decodes a whole .npy held in memory (a member of an .npz archive): the array, as the
 * element type `readRows` would give (float64 / float16 become float32), and its shape.
 */
export function parseNpyBytes(path: string, bytes: Uint8Array): { data: NpyArray; shape: number[]; dtype: NpyDtype } {
  if (os.endianness() !== 'LE') fail(path, 'reading .npy data needs a little-endian host');
  if (bytes.length < 10 || !MAGIC.equals(bytes.subarray(0, MAGIC.length))) fail(path, 'not a .npy array: bad magic (expected "\\x93NUMPY")');
  const major = bytes[6]!;
  if (major !== 1 && major !== 2 && major !== 3) fail(path, `unsupported .npy format version ${major}.${bytes[7]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataOffset = 8 + lenBytes + headerLen;
  if (bytes.length < dataOffset) fail(path, 'truncated .npy header', 'npy-truncated');
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + 8 + lenBytes, headerLen).toString(major === 3 ? 'utf8' : 'latin1');
  const { descr, fortranOrder, shape } = parseNpyHeaderText(path, text);
  const info = resolveDtype(path, descr);
  if (fortranOrder && shape.filter((d) => d > 1).length > 1) fail(path, 'fortran_order (column-major) arrays are not supported; save a C-ordered copy');
  const n = shape.reduce((a, b) => a * b, 1);
  if (bytes.length - dataOffset < n * info.itemSize) fail(path, `truncated data: shape ${formatShape(shape)} ${info.dtype} needs ${n * info.itemSize} bytes, the array has ${bytes.length - dataOffset}`, 'npy-truncated');
  // Copied into an aligned array of its own (a member's data may sit at any byte offset).
  const raw = new Uint8Array(bytes.subarray(dataOffset, dataOffset + n * info.itemSize)); // a copy (Buffer#slice would be a view)
  let data: NpyArray;
  if (info.dtype === 'float64') data = Float32Array.from(new Float64Array(raw.buffer, 0, n));
  else if (info.dtype === 'float16') {
    const h = new Uint16Array(raw.buffer, 0, n);
    const f = new Float32Array(n);
    for (let i = 0; i < n; i++) f[i] = fp16ToNumber(h[i]!);
    data = f;
  } else {
    const out = allocateNpyArray(info.arrayType, n);
    new Uint8Array(out.buffer).set(raw);
    data = out;
  }
  return { data, shape, dtype: info.dtype };
}
