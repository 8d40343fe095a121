/**
 * A calibrator turns the values a tensor takes on representative data into the range
 * its quantizer should cover. One instance observes one tensor; `collect` is called
 * once per batch, so implementations keep bounded state (running extrema, a histogram
 * re-binned as the range grows), never the values themselves.
 */
export interface CalibrationRange {
  /** Symmetric range: the quantizer covers [-amax, amax]. Always >= 0. */
  amax: number;
  /** Asymmetric range (clipped the same way as amax): [min, max], min <= 0 <= max. */
  min: number;
  max: number;
}

/** JSON-serialisable calibrator state, so calibration can be sharded and merged. */
export interface CalibratorState {
  method: string;
  version: number;
  [key: string]: unknown;
}

export interface Calibrator {
  /** Registered name of the method ("minmax", "entropy", ...). */
  readonly method: string;
  /** Observe one batch of one tensor's values. */
  collect(values: Float32Array): void;
  /**
   * Optional fast path for methods that only need each batch's extrema (minmax): the
   * extrema are then computed inside the inference graph, and the tensor itself never
   * leaves onnxruntime. `count` is the number of values they summarise.
   */
  collectExtrema?(min: number, max: number, count: number): void;
  /** The range chosen from everything collected so far. Throws if nothing was collected. */
  compute(): CalibrationRange;
  /** Serialise what has been collected (JSON-safe). */
  state(): CalibratorState;
  /** Fold another calibrator's serialised state (same method) into this one. */
  merge(state: CalibratorState): void;
}

/** Options a user passes to a calibration method, e.g. `{ percentile: 99.999 }`. */
export type CalibratorOptions = Record<string, unknown>;

/** Makes one fresh calibrator per observed tensor. */
export type CalibratorFactory = (options?: CalibratorOptions) => Calibrator;
