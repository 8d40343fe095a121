/**
 * The library functions behind the CLI commands, callable in-process: quantizeModel
 * (load → transform → insertQdq → calibrate → save), inspectModel, runConfig, and the
 * backend build / check steps. Commands only parse arguments and print.
 *
 * One file a step: quantize, inspect, check, build, and run (a config file's steps in
 * order). The steps share context (the backend and its settings) and model-files (the
 * input model, the output path); calibration is quantize's data set-up.
 */
export { prepareBackend, mergeQuantConfig, type PipelineContext } from './context.js';
export { checkOutputPath, loadInputModel, validateModelFile } from './model-files.js';
export { formatQuantizeSummary, quantizeModel, type QuantizeModelOptions, type QuantizeSummary } from './quantize.js';
export { formatInspectReport, inspectModel, type InspectOptions, type InspectReport } from './inspect.js';
export { checkModel, formatCheckReport, type CheckReport } from './check.js';
export { buildWithBackend, formatBuildReport } from './build.js';
export { runConfig, type RunOptions, type RunReport } from './run.js';
export { analyzeModel, formatAnalyzeReport, type AnalyzeModelOptions, type AnalyzeSummary } from './analyze.js';
export { tuneModel, formatTuneReport, type TuneModelOptions, type TuneSummary } from './tune.js';
