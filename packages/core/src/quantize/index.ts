export * from './config.js';
export * from './quantizer.js';
export * from './quant-stub.js';
export * from './weight-fake-quantize.js';
export * from './quantized-model.js';
export * from './insert-qdq.js';
export { scaleGroupsOf, type ScaleGroup } from './scale-groups.js';
export { exportQdq, MIN_QDQ_OPSET, type ExportOptions } from './export-qdq.js';
export { roundHalfEven } from './rounding.js';
