export * from './patterns/index.js';
export { tensorrtBackend } from './backend.js';
export { buildTensorrt } from './build.js';
// trtexec: engine builder, output / layer-info parsing, FP16 vs INT8 comparison.
export * from './trtexec/index.js';
// QDQ placement checker: what TensorRT will fuse, and what breaks it.
export * from './check/index.js';
export { default } from './plugin.js';
