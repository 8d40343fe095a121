import { COUNT_BINS_WASM } from './wasm/count-bins.wasm.js';

/**
 * Counting the int16 bin indices that calibration bins inside the onnxruntime graph
 * (`AbsHistogram.collectBinned`): the hottest loop of histogram calibration, ~10^8
 * indices per calibration.
 *
 * An index v is the signed floor of x · bins / range, in [-bins - 1, bins]: the bin of
 * |x| is v for v >= 0 and -v - 1 (= ~v) for v < 0; v = bins (x = range) and v = -bins - 1
 * (x = -range, pushed one bin lower by float32 rounding in the graph) go to the last bin
 * as well. Other indices are left out: callers compare the total counted with the number
 * of indices.
 *
 * Large batches are counted in WebAssembly (./wasm/count-bins.wat), signed, into 4
 * interleaved "lanes" of u32 counters (index i into lane i % 4, so that a run of equal
 * indices — the zero bin, after ReLU — does not serialise on one counter), slot
 * `v & 0xffff` of its lane: one load, shift and increment per index, the indices copied
 * into the module's memory a chunk at a time. Then JS folds the lanes into the |x| bins.
 * On realistic activations (1.6 M indices per batch, half zeros) that costs ~0.57 ns per
 * index, copy and fold included, vs ~1.15 ns for the same lanes counted in JS. The fold
 * and the clearing of the lanes cost ~11 µs per batch at 2048 bins (~180 µs at 32767),
 * so small batches — and every batch where WebAssembly is missing (node --jitless) —
 * are counted directly into the bins instead, ~2 ns per index.
 */

/** Largest number of bins: the windows of the positive and negative slots stay apart. */
export const MAX_BINS = 32767;

/** Batches shorter than DIRECT_BELOW · bins are counted directly (the fold would cost more). */
const DIRECT_BELOW = 4;

/**
 * Counts the |x| bins of `indices` (signed floor indices, see above) into `out[0, bins)`,
 * overwriting them. Returns how many indices were in [-bins - 1, bins] and counted: fewer
 * than `indices.length` when some were outside.
 */
export function countBins(indices: Int16Array, bins: number, out: Uint32Array): number {
  checkArgs(bins, out);
  const lanes = indices.length >= DIRECT_BELOW * bins ? wasmLanes() : null;
  return lanes !== null ? countWith(lanes, indices, bins, out) : directCount(indices, bins, out);
}

/** `countBins` in the WebAssembly lanes whatever the length (for tests); throws without WebAssembly. */
export function countBinsInLanes(indices: Int16Array, bins: number, out: Uint32Array): number {
  checkArgs(bins, out);
  const lanes = wasmLanes();
  if (lanes === null) throw new Error('bin counter: WebAssembly is not available');
  return countWith(lanes, indices, bins, out);
}

/** `countBins` directly into the bins whatever the length (for tests). */
export function countBinsDirect(indices: Int16Array, bins: number, out: Uint32Array): number {
  checkArgs(bins, out);
  return directCount(indices, bins, out);
}

function checkArgs(bins: number, out: Uint32Array): void {
  if (!(Number.isInteger(bins) && bins >= 1 && bins <= MAX_BINS)) {
    throw new Error(`bin counter: bins must be an integer in [1, ${MAX_BINS}], got ${bins}`);
  }
  if (out.length < bins) throw new Error(`bin counter: out holds ${out.length} counts, needs ${bins}`);
}

/** Module-level and small, so that V8 compiles it to a tight loop. */
function directCount(indices: Int16Array, bins: number, out: Uint32Array): number {
  out.fill(0, 0, bins);
  const n = indices.length;
  let outside = 0;
  for (let i = 0; i < n; i++) {
    const v = indices[i]!;
    const k = v ^ (v >> 31); // v >= 0 ? v : -v - 1
    if (k < bins) out[k]!++;
    else if (v === bins || v === -bins - 1) out[bins - 1]!++;
    else outside++; // v > bins or v < -bins - 1
  }
  return n - outside;
}

const LANES = 4;
/** Slots per lane that an index can reach (u16). */
const SLOTS = 65536;

/**
 * The WebAssembly counter, one for all callers (counting is synchronous): LANES lanes of
 * `stride` counters in its memory, slot u16(v) of lane l at l · stride + u16(v).
 */
interface Lanes {
  readonly lanes: Uint32Array;
  readonly stride: number;
  /** Adds the indices to the lanes. */
  add(indices: Int16Array): void;
}

function countWith({ lanes, stride, add }: Lanes, indices: Int16Array, bins: number, out: Uint32Array): number {
  // Clear the windows that the fold reads: slots [0, bins] and [SLOTS - bins - 1, SLOTS)
  // of each lane. Whatever lies outside them (indices out of range) is never read.
  for (let l = 0; l < LANES; l++) {
    const o = l * stride;
    lanes.fill(0, o, o + bins + 1);
    lanes.fill(0, o + SLOTS - bins - 1, o + SLOTS);
  }
  add(indices);
  return foldLanes(lanes, stride, bins, out);
}

/**
 * Lane slots -> |x| bins: bin k gets slots k (v = k) and SLOTS - 1 - k (v = -k - 1) of
 * every lane, the last bin also slots `bins` (v = bins) and SLOTS - 1 - bins
 * (v = -bins - 1). Returns the total counted.
 */
function foldLanes(lanes: Uint32Array, stride: number, bins: number, out: Uint32Array): number {
  const s1 = stride;
  const s2 = 2 * stride;
  const s3 = 3 * stride;
  let seen = 0;
  for (let k = 0, m = SLOTS - 1; k < bins; k++, m--) {
    const c =
      lanes[k]! + lanes[k + s1]! + lanes[k + s2]! + lanes[k + s3]! +
      lanes[m]! + lanes[m + s1]! + lanes[m + s2]! + lanes[m + s3]!;
    out[k] = c;
    seen += c;
  }
  const m = SLOTS - 1 - bins;
  const c =
    lanes[bins]! + lanes[bins + s1]! + lanes[bins + s2]! + lanes[bins + s3]! +
    lanes[m]! + lanes[m + s1]! + lanes[m + s2]! + lanes[m + s3]!;
  out[bins - 1]! += c;
  return seen + c;
}

/** The part of the WebAssembly API used here (the TS lib in use does not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
/** What count-bins.wat exports. */
interface CountBinsExports {
  memory: { buffer: ArrayBuffer };
  count(n: number): void;
  lane_stride: { value: number };
  chunk_offset: { value: number };
  chunk_length: { value: number };
}

/** undefined: not tried yet; null: no WebAssembly here. */
let shared: Lanes | null | undefined;

function wasmLanes(): Lanes | null {
  if (shared !== undefined) return shared;
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (api === undefined) return (shared = null); // node --jitless
  let wasm: CountBinsExports;
  try {
    // The module is tiny (~300 bytes): synchronous compilation is fine.
    wasm = new api.Instance(new api.Module(COUNT_BINS_WASM), {}).exports as unknown as CountBinsExports;
  } catch {
    return (shared = null); // not allowed to compile WebAssembly here
  }
  // The memory is fixed-size (it never grows), so these views stay valid.
  const stride = wasm.lane_stride.value;
  const chunkLength = wasm.chunk_length.value;
  const chunk = new Int16Array(wasm.memory.buffer, wasm.chunk_offset.value, chunkLength);
  const count = wasm.count;
  return (shared = {
    lanes: new Uint32Array(wasm.memory.buffer, 0, LANES * stride),
    stride,
    add(indices: Int16Array): void {
      const n = indices.length;
      for (let i = 0; i < n; i += chunkLength) {
        const part = indices.subarray(i, Math.min(n, i + chunkLength));
        chunk.set(part);
        count(part.length);
      }
    },
  });
}
