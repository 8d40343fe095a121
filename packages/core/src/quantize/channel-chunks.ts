/**
 * Values a weight kernel copies into its module per call: 256 KiB of float32, so that
 * they stay in the CPU's cache between the copy and the kernel, and the module's memory
 * stays small (every fresh page costs a page fault: ~10 µs each on a loaded VM).
 */
export const CHUNK_VALUES = 1 << 16;

/**
 * A weight's float32 values: as an array, or as their little-endian bytes where viewing
 * them as an array would need a copy first (raw data at an unaligned offset of the file:
 * the kernels copy it into their memory anyway, so the bytes do).
 */
export type Float32Source = Float32Array | Uint8Array;

/** The number of float32 values in `data`. */
export function valueCount(data: Float32Source): number {
  return data instanceof Float32Array ? data.length : data.byteLength >> 2;
}

/** The bytes of `data` (a view). */
export function bytesOf(data: Float32Source): Uint8Array {
  return data instanceof Float32Array ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : data;
}

/** Values [from, to) of `data` (a view). */
export function sliceValues(data: Float32Source, from: number, to: number): Float32Source {
  return data instanceof Float32Array ? data.subarray(from, to) : data.subarray(4 * from, 4 * to);
}

/** `data` as an array: a view where aligned, else a copy (the plain loops' input). */
export function float32Of(data: Float32Source): Float32Array {
  if (data instanceof Float32Array) return data;
  const n = data.byteLength >> 2;
  if (data.byteOffset % 4 === 0) return new Float32Array(data.buffer, data.byteOffset, n);
  const out = new Float32Array(n);
  new Uint8Array(out.buffer).set(data.subarray(0, 4 * n));
  return out;
}

/** Channel runs shorter than this are walked across rows instead (see `acrossRow`). */
const ACROSS_BELOW = 16;
/** The longest row the `across` kernels take (a chunk holds at least one row), so their state stays small. */
const MAX_ROW = 1 << 20;

/**
 * The row length for a kernel's `across` layout, or 0 for its contiguous one. When a
 * weight's channels come in runs shorter than a few SIMD lanes (inner < 16: PyTorch's
 * MatMul weight [K, N] quantized along N has inner = 1), the kernels read it as rows of
 * channels × inner values and keep per-position state for one row, so every SIMD lane
 * does useful work; the contiguous walk would handle one short segment at a time.
 */
export function acrossRow(n: number, channels: number, inner: number): number {
  const row = channels * inner;
  return inner < ACROSS_BELOW && row <= MAX_ROW && n % row === 0 ? row : 0;
}

/** Values a kernel's memory holds at once: a chunk, or one row where rows are longer. */
export function chunkFor(row: number): number {
  return Math.max(CHUNK_VALUES, row);
}

/** Walks `n` values (whole rows of `row`) in chunks of whole rows, at most `chunk` values each (at least one row). */
export function forEachRowChunk(n: number, row: number, chunk: number, visit: (from: number, to: number) => void): void {
  const step = Math.max(1, Math.floor(chunk / row)) * row;
  for (let from = 0; from < n; from += step) visit(from, Math.min(n, from + step));
}

/**
 * Walks a weight's values in chunks of at most `chunk` values, for kernels that take
 * them a chunk at a time into WebAssembly memory: segment s = values [s·inner,
 * (s+1)·inner) belongs to channel s mod `channels`. A chunk holds whole segments, or, for
 * segments longer than a chunk, a piece of one; `visit(from, to, segment, c)` gets the
 * chunk's range, the segment length to use within it and the channel of its first segment.
 */
export function forEachChunk(
  n: number, channels: number, inner: number, chunk: number,
  visit: (from: number, to: number, segment: number, c: number) => void,
): void {
  if (inner <= chunk) {
    const step = Math.floor(chunk / inner) * inner;
    for (let from = 0, c = 0; from < n; from += step, c = (c + step / inner) % channels) {
      visit(from, Math.min(n, from + step), inner, c);
    }
    return;
  }
  for (let start = 0, c = 0; start < n; start += inner, c = c + 1 === channels ? 0 : c + 1) {
    const end = Math.min(n, start + inner);
    for (let from = start; from < end; from += chunk) {
      const to = Math.min(end, from + chunk);
      visit(from, to, to - from, c);
    }
  }
}

/** A weight kernel's WebAssembly memory, as its exports give it. */
export interface GrowableMemory {
  buffer: ArrayBuffer;
  grow(pages: number): number;
}

/** Grows a WebAssembly memory to at least `bytes`; false when it cannot (over 2 GiB, or refused). */
export function growTo(memory: GrowableMemory, bytes: number): boolean {
  const have = memory.buffer.byteLength;
  if (bytes <= have) return true;
  if (bytes > 2 ** 31) return false;
  try {
    memory.grow(Math.ceil((bytes - have) / 65536));
    return true;
  } catch {
    return false;
  }
}
