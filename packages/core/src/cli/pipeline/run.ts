/** `qdeploy run`: everything a config file asks for, step by step. */
import type { ResolvedConfig } from '../../config/types.js';
import { benchmarkModel, evaluateModel, formatBenchReport, formatEvalReport, type BenchReport, type EvalReport } from '../../evaluate/index.js';
import type { BuildReport } from '../../plugins/backend.js';
import { buildWithBackend, formatBuildReport } from './build.js';
import { prepareBackend, type PipelineContext } from './context.js';
import { checkInputPath, checkOutputPath, loadInputModel, validateModelFile } from './model-files.js';
import { formatQuantizeSummary, quantizeModel, type QuantizeSummary } from './quantize.js';

export interface RunOptions {
  progress?: boolean;
  /** Run the build step when the config has one (default true). */
  build?: boolean;
  /** Run the evaluation step when the config has one (default true). */
  evaluate?: boolean;
  /** Run the bench step when the config has one (default true). */
  bench?: boolean;
  log?: (line: string) => void;
  /** Called after each step with its printable report. */
  onStep?: (step: 'quantize' | 'build' | 'evaluate' | 'bench', text: string) => void;
}

export interface RunReport {
  config: string;
  quantize: QuantizeSummary;
  build?: BuildReport;
  evaluation?: EvalReport;
  bench?: { quantized: BenchReport; fp32?: BenchReport; speedup?: number };
}

/** Everything a config file asks for: quantize, then the optional build, evaluation and bench. */
export async function runConfig(config: ResolvedConfig, options: RunOptions = {}): Promise<RunReport> {
  const ctx: PipelineContext = { from: config.dir, plugins: config.plugins, log: options.log };
  const e = config.evaluate;
  const reference = e && e.ref !== false ? e.ref ?? config.model : undefined;
  // The config file and every file a later step reads are inputs the output must not overwrite.
  const protect = [config.file, e?.data, e?.labels, reference];
  if (typeof config.build?.output === 'string') {
    await checkOutputPath(config.build.output, [config.model, config.output, ...protect, config.calibration?.data]);
  }
  // The evaluation's inputs are checked now, not after a long calibration.
  if (e && options.evaluate !== false) {
    await checkInputPath(e.data, 'evaluate.data');
    await checkInputPath(e.labels, 'evaluate.labels');
    if (typeof e.ref === 'string') {
      loadInputModel(e.ref);
      await validateModelFile(e.ref);
    }
  }
  const quantize = await quantizeModel({
    protect,
    ...ctx,
    model: config.model,
    output: config.output,
    backend: config.backend,
    backendOptions: config.backendOptions,
    quant: config.quant,
    calibration: config.calibration ?? null,
    progress: options.progress,
  });
  options.onStep?.('quantize', formatQuantizeSummary(quantize));
  const report: RunReport = { config: config.file, quantize };

  if (config.build && config.build.enabled !== false && options.build !== false) {
    const backend = await prepareBackend(config.backend, ctx);
    const { enabled: _enabled, ...buildOptions } = config.build;
    report.build = await buildWithBackend(backend, config.output, { cwd: config.dir, ...buildOptions });
    options.onStep?.('build', formatBuildReport(report.build));
  }
  if (config.evaluate && options.evaluate !== false) {
    const e = config.evaluate;
    const ref = e.ref === false ? undefined : e.ref ?? config.model;
    await validateModelFile(config.output);
    report.evaluation = await evaluateModel(config.output, {
      data: e.data,
      labels: e.labels,
      ...(ref !== undefined ? { ref } : {}),
      ...(e.batchSize !== undefined ? { batchSize: e.batchSize } : {}),
      ...(e.limit !== undefined ? { limit: e.limit } : {}),
      ...(options.progress !== undefined ? { progress: options.progress } : {}),
    });
    options.onStep?.('evaluate', formatEvalReport(report.evaluation));
  }
  if (config.bench && options.bench !== false) {
    const { compare, ...b } = config.bench;
    const quantized = await benchmarkModel(config.output, b);
    const bench: NonNullable<RunReport['bench']> = { quantized };
    if (compare) {
      bench.fp32 = await benchmarkModel(config.model, b);
      bench.speedup = bench.fp32.latencyMs.mean / quantized.latencyMs.mean;
    }
    report.bench = bench;
    let text = formatBenchReport(quantized);
    if (bench.fp32) text += `\n\nFP32 reference:\n${formatBenchReport(bench.fp32)}\n\nspeed-up    ${bench.speedup!.toFixed(2)}× (mean latency, FP32 / INT8)`;
    options.onStep?.('bench', text);
  }
  return report;
}
