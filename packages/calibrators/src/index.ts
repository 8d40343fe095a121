// @qdeploy/calibrators: the minmax, percentile, entropy and mse calibration methods.
export { MinMaxCalibrator } from './minmax.js';
export { PercentileCalibrator, percentileCutBin, DEFAULT_PERCENTILE, type PercentileOptions } from './percentile.js';
export { EntropyCalibrator, entropyCutBin, type EntropyOptions } from './entropy.js';
export { MseCalibrator, mseBestBin, type MseOptions } from './mse.js';
export { HistogramCalibrator } from './histogram-calibrator.js';
export { AbsHistogram, rebinInPlace, DEFAULT_BINS, type HistogramState } from './histogram.js';
export { scanBatch, type BatchExtrema } from './scan.js';
export { STATE_VERSION } from './state.js';
export { calibratorFactories, registerAll } from './plugin.js';
export { default } from './plugin.js';
