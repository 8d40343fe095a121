import type { Model } from '../ir/model.js';
import { STANDARD_CONVERSIONS } from '../patterns/conversions.js';
import type { Pattern } from '../patterns/pattern.js';
import type { QuantConfigInput } from '../quantize/config.js';

/** A finding of a backend's placement checker. */
export interface CheckFinding {
  severity: 'error' | 'warning' | 'info';
  /** Short machine-readable code, e.g. "qdq-breaks-fusion". */
  code: string;
  /** The node (or tensor) concerned. */
  node?: string;
  message: string;
}

/** Result of building a deployable artifact (an engine, an optimised session). */
export interface BuildReport {
  /** Human-readable summary lines. */
  summary: string[];
  /** Where the artifact went, if anywhere. */
  output?: string;
  [key: string]: unknown;
}

/**
 * A deployment target. A backend is a declarative pattern table plus the tools to
 * build and check for the target. Backends register themselves with core through a
 * plugin (see QdeployPlugin); core never imports one.
 */
export interface Backend {
  /** Name used on the command line and in config files ("tensorrt", "reference"). */
  name: string;
  description?: string;
  /** Conversions and fusions, in table order. */
  patterns: readonly Pattern[];
  /**
   * The pattern table for backend-specific options (a config's `backendOptions`, the
   * CLI's `--backend-option`), e.g. TensorRT's `{ minLinearSize: 0 }`. Throws on an
   * option it does not know.
   */
  patternsFor?(options: Record<string, unknown>): readonly Pattern[];
  /**
   * Whether core's STANDARD_CONVERSIONS (RemoveIdentity, RemoveDropout, FoldBatchNorm)
   * run before the table (default true: each one the table does not list is added in
   * front). False: the table is used exactly as given.
   */
  standardConversions?: boolean;
  /** The backend's quantization defaults (merged under the user's config). */
  quantConfig?: QuantConfigInput;
  /** Calibration method that suits the backend best (default "mse"). */
  defaultCalibrator?: string;
  /**
   * Builds the exported QDQ model for the target. Errors that mean "the user's input or
   * setup is wrong" (a refused option, a missing tool) should carry `badInput: true`, so
   * the CLI reports them as bad usage (exit 2).
   */
  build?(onnxPath: string, options: Record<string, unknown>): Promise<BuildReport>;
  /** Checks a QDQ model's placement against the target's rules. */
  check?(model: Model): CheckFinding[];
}

/** The backend's pattern table, configured by `options` when any are given. */
export function backendPatterns(backend: Backend, options?: Record<string, unknown>): readonly Pattern[] {
  if (!options || Object.keys(options).length === 0) return withStandardConversions(backend, backend.patterns);
  if (!backend.patternsFor) {
    throw new Error(`backend ${backend.name} takes no backend options (got ${Object.keys(options).join(', ')})`);
  }
  return withStandardConversions(backend, backend.patternsFor(options));
}

/** `table` with the standard conversions it lacks (by name) in front, unless the backend opts out. */
export function withStandardConversions(backend: Pick<Backend, 'standardConversions'>, table: readonly Pattern[]): readonly Pattern[] {
  if (backend.standardConversions === false) return table;
  const listed = new Set(table.map((p) => p.name));
  const missing = STANDARD_CONVERSIONS.filter((p) => !listed.has(p.name));
  return missing.length ? [...missing, ...table] : table;
}
