/**
 * Options of one trtexec run (build an engine from an ONNX model and, unless skipped,
 * benchmark it). `buildTrtexecArgs` turns them into the exact argument vector.
 */

/**
 * Precision modes.
 * - `best`: `--best` (TensorRT picks among FP32/FP16/INT8; the usual choice for a QDQ model).
 * - `int8`: `--int8`, `fp16`: `--fp16` (both may be combined: `['fp16', 'int8']`).
 * - `fp32`: no precision flag (TF32 stays enabled by TensorRT's default).
 * - `stronglyTyped`: `--stronglyTyped` (TensorRT 10): precisions come from the model's own
 *   types and Q/DQ nodes; cannot be combined with any other mode.
 */
export type Precision = 'best' | 'int8' | 'fp16' | 'fp32' | 'stronglyTyped';

/** One mode, or several combined (`['fp16', 'int8']` → `--fp16 --int8`). */
export type PrecisionSpec = Precision | readonly Precision[];

/** Tensor dimensions, batch first: `[32, 3, 224, 224]`. Every dimension must be a positive integer. */
export type Dims = readonly number[];

/** An optimization-profile range for one dynamic input: `min ≤ opt ≤ max`, dimension by dimension. */
export interface ShapeRange {
  readonly min: Dims;
  readonly opt: Dims;
  readonly max: Dims;
}

/** A fixed shape (`--shapes`) or a range (`--minShapes/--optShapes/--maxShapes`) for one input. */
export type ShapeSpec = Dims | ShapeRange;

export type ProfilingVerbosity = 'layer_names_only' | 'detailed' | 'none';

/** Which stream a line came from. */
export type TrtexecStream = 'stdout' | 'stderr';

export interface BuildOptions {
  /** Default `best`. */
  readonly precision?: PrecisionSpec;
  /**
   * Input shapes by input name. All fixed → `--shapes=a:1x3x224x224,b:1x10`. If any input has a
   * range, every listed input goes into `--minShapes/--optShapes/--maxShapes` (a fixed input with
   * min = opt = max). Names other than `[A-Za-z0-9_]+` are wrapped in single quotes the way
   * trtexec expects (`'input.1':1x3x224x224`); names containing `,` or `'` cannot be expressed.
   */
  readonly shapes?: Readonly<Record<string, ShapeSpec>>;
  /**
   * Shapes to benchmark with (`--shapes=`) when inputs were built with ranges; by default trtexec
   * benchmarks at the `opt` shapes. Only for inputs that have a range in `shapes`.
   */
  readonly inferenceShapes?: Readonly<Record<string, Dims>>;
  /** `--saveEngine=<file>`. */
  readonly saveEngine?: string;
  /**
   * Builder workspace limit in MiB: `--memPoolSize=workspace:<N>M` (TensorRT 10),
   * `--memPoolSize=workspace:<N>` (8.4–8.6) or `--workspace=<N>` (before 8.4, or `trtVersion: '8'`).
   */
  readonly workspaceMiB?: number;
  /**
   * The TensorRT version the command is for: `'10'` (default), `'10.9'`, `'8.6'`, `'8.2.1'`…
   * Picks flag spellings that changed between versions (workspace, skipInference/buildOnly)
   * and refuses flags the version does not have (`--stronglyTyped` before 9, exportLayerInfo
   * before 8.4).
   */
  readonly trtVersion?: string;
  /** `--profilingVerbosity=`; forced to `detailed` by exportLayerInfo / exportProfile. */
  readonly profilingVerbosity?: ProfilingVerbosity;
  readonly useCudaGraph?: boolean;
  readonly useSpinWait?: boolean;
  readonly noDataTransfers?: boolean;
  /** `--duration=` minimum benchmark time in seconds (positive integer). */
  readonly duration?: number;
  /** `--iterations=` minimum number of benchmark iterations. */
  readonly iterations?: number;
  /** `--warmUp=` warm-up time in milliseconds. */
  readonly warmUp?: number;
  /** `--avgRuns=` number of iterations averaged per trace line. */
  readonly avgRuns?: number;
  /** `--exportLayerInfo=<file>` (implies `--profilingVerbosity=detailed`); parsed into `layerInfo`. */
  readonly exportLayerInfo?: string;
  /**
   * `--exportProfile=<file>` (implies `--profilingVerbosity=detailed` and `--separateProfileRun`
   * so the per-layer profiler does not distort the headline numbers); parsed into `profile`.
   */
  readonly exportProfile?: string;
  /** Build (and save) only: `--skipInference` (8.6+) or `--buildOnly` (before 8.6). */
  readonly skipInference?: boolean;
  /**
   * Further trtexec flags, appended verbatim (e.g. `['--verbose', '--timingCacheFile=t.cache']`).
   * A flag this module manages (see `MANAGED_FLAGS`) is refused: set the option instead.
   */
  readonly extraArgs?: readonly string[];
  /** Path to trtexec; otherwise `$TRTEXEC`, then `PATH`, then `/usr/src/tensorrt/bin/trtexec`. */
  readonly trtexecPath?: string;
  /** Kill trtexec after this many milliseconds (`TrtexecTimeoutError`). */
  readonly timeoutMs?: number;
  /** Extra environment variables for trtexec (added to `process.env`); also used to locate it. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Working directory of trtexec; relative paths in the options are relative to it. */
  readonly cwd?: string;
  /** Abort to kill trtexec (`TrtexecCancelledError`). */
  readonly signal?: AbortSignal;
  /**
   * Called for every line trtexec prints, as it prints it (stdout and stderr). Exceptions
   * thrown by the callback are ignored so that they cannot break the run.
   */
  readonly onLine?: (line: string, stream: TrtexecStream) => void;
}

/** A parsed `trtVersion` hint. */
export interface TrtVersionHint {
  readonly major: number;
  readonly minor: number | undefined;
  readonly text: string;
}

/** The version assumed when no `trtVersion` is given. */
export const DEFAULT_TRT_VERSION = '10';

export function isShapeRange(spec: unknown): spec is ShapeRange {
  return typeof spec === 'object' && spec !== null && !Array.isArray(spec);
}

/** `'best'` → `['best']`; arrays are copied. */
export function precisionList(spec: PrecisionSpec | undefined): Precision[] {
  if (spec === undefined) return ['best'];
  return typeof spec === 'string' ? [spec] : [...spec];
}

/** A short label for a precision spec: `'best'`, `'fp16+int8'`. */
export function precisionLabel(spec: PrecisionSpec | undefined): string {
  const list = precisionList(spec);
  const order: Precision[] = ['best', 'stronglyTyped', 'fp32', 'fp16', 'int8'];
  const unique = [...new Set(list)].sort((a, b) => order.indexOf(a) - order.indexOf(b));
  return unique.join('+');
}
