import { lazyWasm } from '@qdeploy/core';
import { COUNT_BINS_WASM } from './wasm/count-bins.wasm.js';

/**
 * Counting the int16 bin indices that calibration bins inside the onnxruntime graph
 * (`AbsHistogram.collectBinned`): the hottest loop of histogram calibration, ~10^8
 * indices per calibration.
 *
 * An index v is the signed floor of x · bins / range, in [-bins - 1, bins]: the bin of
 * |x| is v for v >= 0 and -v - 1 (= ~v) for v < 0; v = bins (x = range) and v = -bins - 1
 * (x = -range, pushed one bin lower by float32 rounding in the graph) go to the last bin
 * as well. Other indices break the contract: the batch is left out whole (see `addBins`).
 *
 * Large batches are counted in WebAssembly (./wasm/count-bins.wat), signed, into 4
 * interleaved "lanes" of u32 counters (index i into lane i % 4, so that a run of equal
 * indices — the zero bin, after ReLU — does not serialise on one counter), slot
 * `v & 0xffff` of its lane: one load, shift and increment per index, the indices copied
 * into the module's memory a chunk at a time. The module then folds the lanes into the
 * |x| bins and adds them to the float64 counts (copied in and out: 16 KiB at 2048 bins).
 * On realistic activations (1.6 M indices per batch, half zeros) that costs ~0.57 ns per
 * index, copy and fold included, vs ~1.15 ns for the same lanes counted in JS. The fold
 * and the clearing of the lanes cost ~11 µs per batch at 2048 bins (~180 µs at 32767),
 * so small batches — and every batch where WebAssembly is missing (node --jitless) —
 * are counted directly instead, ~2 ns per index.
 */

/** Largest number of bins: the windows of the positive and negative slots stay apart. */
export const MAX_BINS = 32767;

/** Batches shorter than DIRECT_BELOW · bins are counted directly (the fold would cost more). */
const DIRECT_BELOW = 4;

/** Adds a batch to float64 counts: how `addBins` counts (the lanes or directly). */
type Adder = (indices: Int16Array, bins: number, counts: Float64Array) => number;

/**
 * Adds the |x| bins of `indices` (signed floor indices, see above) to `counts[0, bins)`,
 * if every index is in [-bins - 1, bins]. Returns how many were: when that is fewer than
 * `indices.length`, `counts` is left as it was.
 */
export function addBins(indices: Int16Array, bins: number, counts: Float64Array): number {
  checkArgs(bins, counts);
  const lanes = indices.length >= DIRECT_BELOW * bins ? wasmLanes() : null;
  return (lanes !== null ? lanes.add : addDirect)(indices, bins, counts);
}

/** `addBins` in the WebAssembly lanes whatever the length (for tests); throws without WebAssembly. */
export function addBinsInLanes(indices: Int16Array, bins: number, counts: Float64Array): number {
  checkArgs(bins, counts);
  const lanes = wasmLanes();
  if (lanes === null) throw new Error('bin counter: WebAssembly is not available');
  return lanes.add(indices, bins, counts);
}

/** `addBins` directly, in JavaScript, whatever the length (for tests). */
export function addBinsDirect(indices: Int16Array, bins: number, counts: Float64Array): number {
  checkArgs(bins, counts);
  return addDirect(indices, bins, counts);
}

function checkArgs(bins: number, counts: Float64Array): void {
  if (!(Number.isInteger(bins) && bins >= 1 && bins <= MAX_BINS)) {
    throw new Error(`bin counter: bins must be an integer in [1, ${MAX_BINS}], got ${bins}`);
  }
  if (counts.length < bins) throw new Error(`bin counter: counts holds ${counts.length} bins, needs ${bins}`);
}

/** One batch's counts for `addDirect` (counting is synchronous: one for all callers). */
let scratch = new Uint32Array(2048);

function addDirect(indices: Int16Array, bins: number, counts: Float64Array): number {
  if (scratch.length < bins) scratch = new Uint32Array(bins);
  const seen = directCount(indices, bins, scratch);
  if (seen === indices.length) for (let k = 0; k < bins; k++) counts[k]! += scratch[k]!;
  return seen;
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

/** What count-bins.wat exports. */
interface CountBinsExports {
  memory: { buffer: ArrayBuffer };
  count(n: number): void;
  fold(bins: number): number;
  lane_stride: { value: number };
  chunk_offset: { value: number };
  chunk_length: { value: number };
  bins_offset: { value: number };
}

/** The WebAssembly counter, one for all callers (counting is synchronous). */
interface Lanes {
  readonly add: Adder;
}

/** Null without WebAssembly (node --jitless). */
const wasmLanes = lazyWasm<CountBinsExports, Lanes>(COUNT_BINS_WASM, (wasm) => {
  // The memory is fixed-size (it never grows), so these views stay valid.
  const stride = wasm.lane_stride.value;
  const chunkLength = wasm.chunk_length.value;
  const chunk = new Int16Array(wasm.memory.buffer, wasm.chunk_offset.value, chunkLength);
  const lanes = new Uint32Array(wasm.memory.buffer, 0, LANES * stride);
  const binCounts = new Float64Array(wasm.memory.buffer, wasm.bins_offset.value, MAX_BINS + 1);
  const { count, fold } = wasm;
  return {
    add(indices, bins, counts) {
      // Clear the windows that the fold reads: slots [0, bins] and [SLOTS - bins - 1, SLOTS)
      // of each lane. Whatever lies outside them (indices out of range) is never read.
      for (let l = 0; l < LANES; l++) {
        const o = l * stride;
        lanes.fill(0, o, o + bins + 1);
        lanes.fill(0, o + SLOTS - bins - 1, o + SLOTS);
      }
      const n = indices.length;
      for (let i = 0; i < n; i += chunkLength) {
        const part = indices.subarray(i, Math.min(n, i + chunkLength));
        chunk.set(part);
        count(part.length);
      }
      const into = binCounts.subarray(0, bins);
      into.set(counts.subarray(0, bins));
      const seen = fold(bins);
      if (seen === n) counts.set(into);
      return seen;
    },
  };
});
