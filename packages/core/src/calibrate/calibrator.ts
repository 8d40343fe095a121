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
   * leaves onnxruntime. `count` is the number of values they summarise. A batch with an
   * infinite extremum goes to `collect` instead (which should reject it). For a tensor
   * the graph proves >= 0 (a ReLU's output, ...), `min` is 0, the lower bound: a range
   * only uses min(0, min).
   */
  collectExtrema?(min: number, max: number, count: number): void;
  /**
   * Optional fast path for methods that histogram |x| into equal bins over [0, range]
   * (entropy, percentile, mse): the values are then binned inside the inference graph
   * and only their int16 bin indices leave onnxruntime (see `BinnedCollector`). Used
   * when the model allows it (ai.onnx opset >= 13, a float tensor, bins <= 32767); else,
   * and for any batch the graph cannot bin (non-finite values, a range that grows more
   * than 2^30-fold at once, a range not exactly representable as a float32), `collect`
   * gets the values instead. A calibrator with `binned` sees 4-D feature maps on the
   * grid of calibrate's `histogramStride` (every 2nd row and column by default), through
   * either path alike.
   */
  readonly binned?: BinnedCollector;
  /** The range chosen from everything collected so far. Throws if nothing was collected. */
  compute(): CalibrationRange;
  /** Serialise what has been collected (JSON-safe). */
  state(): CalibratorState;
  /** Fold another calibrator's serialised state (same method) into this one. */
  merge(state: CalibratorState): void;
}

/**
 * The histogram a calibrator keeps, as the in-graph binning sees it: `bins` equal bins
 * of |x| over [0, range] — bin k covers [k·range/bins, (k+1)·range/bins), the last bin
 * also holds |x| = range. When a batch holds a larger |x|, the range grows by doubling:
 * the batch's range R is `range`·2^k for the smallest k >= 0 with R >= max |x| (on first
 * use, with range 0, R is the batch's max |x|).
 */
export interface BinnedCollector {
  /** Number of bins (the graph handles 1..32767). */
  readonly bins: number;
  /**
   * Current range (0 before any non-zero value was seen). It goes into the graph as a
   * float32; a batch for which that is not exact is collected with `collect` instead.
   */
  readonly range: number;
  /**
   * Observe one batch binned in the graph: `indices[i]` = floor(x_i · bins / range), the
   * signed floor on the grid of `range` (the batch's range R above), so the bin of |x_i|
   * is v = indices[i] for v >= 0 and -v - 1 for v < 0. The indices lie in
   * [-bins - 1, bins]: -bins for x_i in [-range, -range + w), bins only for x_i = range
   * and -bins - 1 only for x_i = -range pushed a bin lower by float32 rounding, all three
   * in the last bin (w = range / bins); an index outside that throws. `min`/`max` are the
   * batch's signed extrema, all finite; for a tensor the graph proves >= 0 (a ReLU's
   * output, ...), `min` is 0, the lower bound: a range only uses min(0, min).
   * Equivalent to `collect(values)` up to the rounding of values on a bin edge (the graph
   * computes QuantizeLinear(x − w/2, w), which may put such a value one bin lower).
   */
  collectBinned(indices: Int16Array, range: number, min: number, max: number): void;
}

/** Options a user passes to a calibration method, e.g. `{ percentile: 99.999 }`. */
export type CalibratorOptions = Record<string, unknown>;

/** Makes one fresh calibrator per observed tensor. */
export type CalibratorFactory = (options?: CalibratorOptions) => Calibrator;
