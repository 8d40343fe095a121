export * from './calibrator.js';
export * from './types.js';
export * from './calibrate.js';
export * from './calibration-file.js';
export { mergeCalibrationFiles } from './calibration-merge.js';
export { observationSession } from './observe.js';
export { DEFAULT_HISTOGRAM_STRIDE, sampleGrid, sampleStrideOf } from './sample.js';
export * from './data/index.js';
export { createSession, IN_MEMORY_MODEL_LIMIT } from './session.js';
