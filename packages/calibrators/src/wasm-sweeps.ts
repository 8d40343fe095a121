import { lazyWasm } from '@qdeploy/core';
import { SWEEPS_WASM } from './wasm/sweeps.wasm.js';

/**
 * The entropy and mse sweeps compiled to WebAssembly (../assembly/sweeps.ts): the same
 * candidate as the plain sweeps of plain-sweeps.ts, evaluating only the candidates that
 * can win, and fast from the first call (a calibration runs each sweep a few dozen times
 * per process: JavaScript would run most of them before V8 optimised it).
 */
export interface WasmSweeps {
  /** `entropyCutBin` (entropy.ts), or null when the memory it needs cannot be had. */
  entropyCutBin(counts: ArrayLike<number>, levels: number, startBin: number, stride: number): number | null;
  /** `mseBestBin` (mse.ts), or null when the memory it needs cannot be had. */
  mseBestBin(counts: ArrayLike<number>, startBin: number, stride: number, nBits: number): number | null;
}

/** What sweeps.ts exports. */
interface SweepsExports {
  memory: { buffer: ArrayBuffer };
  base(): number;
  reserve(bytes: number): number;
  entropyWorkBytes(bins: number, levels: number, startBin: number, stride: number): number;
  entropyCutBin(bins: number, levels: number, startBin: number, stride: number): number;
  mseWorkBytes(bins: number, startBin: number, stride: number, nBits: number): number;
  mseBestBin(bins: number, startBin: number, stride: number, nBits: number): number;
}

/**
 * The WebAssembly sweeps; null without WebAssembly (node --jitless). Math.log itself is
 * imported, so that V8 calls its own log (the one of Math.log in JavaScript) from the module.
 */
export const wasmSweeps = lazyWasm<SweepsExports, WasmSweeps>(SWEEPS_WASM, (x) => {
  /** Copies the counts to the module's memory; false when it cannot grow enough. */
  const load = (counts: ArrayLike<number>, bytes: number): boolean => {
    if (!x.reserve(bytes)) return false;
    new Float64Array(x.memory.buffer, x.base(), counts.length).set(counts);
    return true;
  };
  return {
    entropyCutBin(counts, levels, startBin, stride) {
      return load(counts, x.entropyWorkBytes(counts.length, levels, startBin, stride)) ? x.entropyCutBin(counts.length, levels, startBin, stride) : null;
    },
    mseBestBin(counts, startBin, stride, nBits) {
      return load(counts, x.mseWorkBytes(counts.length, startBin, stride, nBits)) ? x.mseBestBin(counts.length, startBin, stride, nBits) : null;
    },
  };
}, { env: { log: Math.log } });
