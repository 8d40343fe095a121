import type { CalibratorOptions } from '@qdeploy/core';
import { AbsHistogram, DEFAULT_BINS } from './histogram.js';
import { HistogramCalibrator } from './histogram-calibrator.js';
import { checkIntegers, readOptions } from './options.js';
import { plainMseBestBin } from './plain-sweeps.js';
import { wasmSweeps } from './wasm-sweeps.js';

export interface MseOptions {
  /** Histogram bins. Default 2048. */
  bins?: number;
  /** First candidate, as a bin index (amax = that bin's center). Default 128. */
  startBin?: number;
  /** Step between candidates, in bins. Default 1. */
  stride?: number;
  /** Bit width of the symmetric quantizer simulated. Default 8. */
  nBits?: number;
}

/**
 * mse: the amax minimising the expected squared quantization error over the histogram,
 * as pytorch-quantization's `_compute_amax_mse`: candidates are the bin centers from
 * `startBin` up to the second-to-last bin (step `stride`); for each, every bin center c is
 * fake-quantized symmetrically to nBits (scale = (2^(nBits-1) - 1) / amax, round half to
 * even, clamp) and the error is Σ count · (c − q(c))². The first minimum wins.
 */
export class MseCalibrator extends HistogramCalibrator {
  readonly method = 'mse';
  readonly startBin: number;
  readonly stride: number;
  readonly nBits: number;

  constructor(options?: CalibratorOptions | MseOptions) {
    const o = readOptions('mse', options as CalibratorOptions | undefined, {
      bins: { kind: 'integer', min: 2 },
      startBin: { kind: 'integer', min: 0 },
      stride: { kind: 'integer', min: 1 },
      nBits: { kind: 'integer', min: 2, max: 16 },
    });
    const bins = o.bins ?? DEFAULT_BINS;
    super(bins);
    this.startBin = o.startBin ?? 128;
    this.stride = o.stride ?? 1;
    this.nBits = o.nBits ?? 8;
    if (this.startBin > bins - 2) {
      throw new Error(`mse calibrator: startBin (${this.startBin}) must be <= bins - 2 (${bins - 2})`);
    }
  }

  protected computeAmax(h: AbsHistogram): number {
    const k = mseBestBin(h.counts, this.startBin, this.stride, this.nBits);
    return (k + 0.5) * h.binWidth;
  }
}

/**
 * The bin of the mse method: the one whose center, taken as amax, gives the smallest
 * squared error of an nBits symmetric quantizer (the first on a tie), over candidates
 * startBin, startBin + stride, ... < counts.length − 1. Computed by the WebAssembly sweep
 * (../assembly/sweeps.ts: ~0.3 ms for 2048 bins, from the first call), which returns
 * exactly the bin of the plain sweep (plain-sweeps.ts) evaluating only the candidates that
 * can win; by the plain sweep where WebAssembly is not available.
 */
export function mseBestBin(counts: ArrayLike<number>, startBin: number, stride: number, nBits: number): number {
  checkIntegers('mseBestBin', { startBin: [startBin, 0], stride: [stride, 1], nBits: [nBits, 2, 16] });
  return wasmSweeps()?.mseBestBin(counts, startBin, stride, nBits) ?? plainMseBestBin(counts, startBin, stride, nBits);
}
