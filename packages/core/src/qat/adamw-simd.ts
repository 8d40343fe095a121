import { ADAMW_WASM } from './wasm/adamw.wasm.js';
import { lazyWasm } from '../util/wasm.js';
import { growTo, type GrowableMemory } from '../quantize/channel-chunks.js';

interface Exports {
  memory: GrowableMemory;
  adamw(n: number, w: number, g: number, m: number, v: number, b1: number, b2: number, step: number, invSqrtC2: number, eps: number, decay: number): void;
}

/** The constants of one AdamW update (see adamw.wat). */
export interface AdamWStep {
  b1: number;
  b2: number;
  /** lr / (1 − β1^t). */
  step: number;
  /** 1 / √(1 − β2^t). */
  invSqrtC2: number;
  eps: number;
  /** 1 − lr·weightDecay where weight decay applies, else 1. */
  decay: number;
}

/** An AdamW update in WebAssembly (./wasm/adamw.wat), four values at a time. */
export interface SimdAdamW {
  /** Updates `w`, `m` and `v` in place from `g`; false when the module's memory cannot grow. */
  run(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, k: AdamWStep): boolean;
}

/**
 * Values per array copied into the module per call: four arrays of 256 KiB stay in the
 * CPU's cache between the copy in, the update and the copy out.
 */
const CHUNK = 1 << 16;

/** The WebAssembly AdamW update; null without WebAssembly (or SIMD). */
export const simdAdamW = lazyWasm<Exports, SimdAdamW>(ADAMW_WASM, (x) => ({
  run(w, g, m, v, k) {
    if (!growTo(x.memory, 16 * CHUNK)) return false;
    const buf = x.memory.buffer;
    const [vw, vg, vm, vv] = [0, 1, 2, 3].map((i) => new Float32Array(buf, 4 * CHUNK * i, CHUNK)) as [Float32Array, Float32Array, Float32Array, Float32Array];
    for (let from = 0; from < w.length; from += CHUNK) {
      const to = Math.min(w.length, from + CHUNK);
      const n = to - from;
      vw.set(w.subarray(from, to));
      vg.set(g.subarray(from, to));
      vm.set(m.subarray(from, to));
      vv.set(v.subarray(from, to));
      x.adamw(n, 0, 4 * CHUNK, 8 * CHUNK, 12 * CHUNK, k.b1, k.b2, k.step, k.invSqrtC2, k.eps, k.decay);
      w.set(vw.subarray(0, n), from);
      m.set(vm.subarray(0, n), from);
      v.set(vv.subarray(0, n), from);
    }
    return true;
  },
}));
