// Evaluation and benchmarking on onnxruntime-node's CPU provider (`qdeploy eval`, `qdeploy bench`).
export { evaluateModel, type EvaluateOptions, type EvalReport } from './evaluate.js';
export { benchmarkModel, concreteShape, type BenchmarkOptions, type BenchReport, type LatencyStats } from './bench.js';
export { formatEvalReport, formatBenchReport, labelWarning } from './format.js';
export { openLabels, type LabelFile } from './labels.js';
export { argmaxRows, sqnrDb, percentile } from './stats.js';
