export {
  TrtexecError,
  TrtexecUsageError,
  TrtexecNotFoundError,
  TrtexecFailedError,
  TrtexecTimeoutError,
  TrtexecCancelledError,
  type TrtexecProcessDetails,
} from './errors.js';
export {
  DEFAULT_TRT_VERSION,
  precisionLabel,
  type BuildOptions,
  type Dims,
  type Precision,
  type PrecisionSpec,
  type ProfilingVerbosity,
  type ShapeRange,
  type ShapeSpec,
  type TrtexecStream,
  type TrtVersionHint,
} from './options.js';
export {
  buildTrtexecArgs,
  formatCommand,
  MANAGED_FLAGS,
  parseTrtVersionHint,
  quoteTensorName,
  shellQuote,
} from './args.js';
export { locateTrtexec, WELL_KNOWN_TRTEXEC_PATHS, type LocateTrtexecOptions } from './locate.js';
export {
  decodeTensorRtVersion,
  parseStats,
  parseTrtexecOutput,
  splitLogLine,
  type LatencyStats,
  type LogLine,
  type TrtexecSummary,
  type TrtexecVerdict,
  type VerdictStatus,
} from './parse-output.js';
export {
  formatPrecision,
  parseLayerInfo,
  parseProfile,
  type EngineLayer,
  type EngineLayerInfo,
  type EngineProfile,
  type LayerInfoSummary,
  type LayerProfileEntry,
  type LayerTensor,
  type ReformatInfo,
  type ReformatKind,
  type TensorPrecision,
} from './layer-info.js';
export { buildEngine, defaultEnginePath, LOG_TAIL_LINES, runTrtexec, type TrtexecRunResult } from './run.js';
export {
  compareEngines,
  formatComparison,
  formatNumber,
  withLabelSuffix,
  type CompareOptions,
  type CompareVariant,
  type CompareVariantSpec,
  type ComparisonEntry,
  type EngineComparison,
} from './compare.js';
export { detectTrtVersion } from './version.js';
