// @qdeploy/core public API (grows with the pipeline: onnx → ir → patterns → quantize → calibrate).
export * from './calibrate/calibrator.js';
export * from './calibrate/types.js';
export * from './plugins/container.js';
export * from './plugins/plugin.js';
