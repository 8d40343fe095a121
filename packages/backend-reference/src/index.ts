// @qdeploy/backend-reference: onnxruntime-node on the CPU, with QDQ placed so its integer kernels fire.
export * from './patterns/index.js';
export { elemTypeOf, isFloatActivation } from './patterns/dtype.js';
export { referenceBackend, REFERENCE_QUANT_CONFIG } from './backend.js';
export { buildReference, type ReferenceBuildOptions, type ReferenceBuildReport } from './build.js';
export { checkReferencePlacement } from './check.js';
export { summarizeFusions, INTEGER_OPS, FLOAT_COMPUTE_OPS, type FusionSummary } from './fusions.js';
export { quantizeForReference, benchReference, type QuantizeForReferenceOptions, type ReferenceQuantized, type BenchReferenceOptions, type BenchReferenceRow } from './bench.js';
export { default } from './plugin.js';
