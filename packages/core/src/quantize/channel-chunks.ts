/** Values a weight kernel copies into its module per call: 4 MiB of float32, so its memory stays small. */
export const CHUNK_VALUES = 1 << 20;

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
