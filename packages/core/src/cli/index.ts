// The CLI as a library: run it in-process, or call the pipeline functions behind it.
export { main, createProgram } from './main.js';
export { EXIT_FAILED, EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM, EXIT_USAGE, ModelInputError, UsageError, errorLines, exitCodeFor, isInputError } from './errors.js';
export type { CliIO } from './options.js';
export {
  buildWithBackend,
  checkModel,
  checkOutputPath,
  formatBuildReport,
  formatCheckReport,
  formatInspectReport,
  formatQuantizeSummary,
  inspectModel,
  mergeQuantConfig,
  prepareBackend,
  quantizeModel,
  runConfig,
  validateModelFile,
  type CheckReport,
  type InspectOptions,
  type InspectReport,
  type PipelineContext,
  type QuantizeModelOptions,
  type QuantizeSummary,
  type RunOptions,
  type RunReport,
} from './pipeline/index.js';
export { applyCalibrationFile, calibrateModel, mergeCalibration, type CalibrateModelOptions, type CalibrateSummary } from './pipeline/index.js';
