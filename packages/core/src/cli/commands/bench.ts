import path from 'node:path';
import type { Command } from 'commander';
import type { BenchmarkOptions } from '../../evaluate/index.js';
import { addCommonOptions, nonNegativeInt, positiveInt, printJson, type CliIO } from '../options.js';

interface BenchFlags {
  batchSize?: number;
  iterations?: number;
  warmup?: number;
  threads?: number;
  compare?: string;
  json?: boolean;
}

export function registerBench(program: Command, io: CliIO): void {
  const cmd = program
    .command('bench')
    .description('latency and throughput of a model on onnxruntime (CPU, the reference backend)')
    .argument('<model>', 'ONNX model')
    .option('--batch-size <n>', 'batch size for dynamic dimensions (default: 1)', positiveInt)
    .option('--iterations <n>', 'timed runs (default: 100)', positiveInt)
    .option('--warmup <n>', 'untimed runs first (default: 10)', nonNegativeInt)
    .option('--threads <n>', 'onnxruntime intra-op threads (default: onnxruntime\'s choice)', positiveInt)
    .option('--compare <model>', 'also time this model (e.g. the FP32 original) and print the speed-up');
  addCommonOptions(cmd, { json: true });
  cmd.action(async (model: string, flags: BenchFlags) => {
    const { benchmarkModel, formatBenchReport } = await import('../../evaluate/index.js');
    const { loadInputModel, validateModelFile } = await import('../pipeline/index.js');
    const opts: BenchmarkOptions = {};
    if (flags.batchSize !== undefined) opts.batchSize = flags.batchSize;
    if (flags.iterations !== undefined) opts.iterations = flags.iterations;
    if (flags.warmup !== undefined) opts.warmup = flags.warmup;
    if (flags.threads !== undefined) opts.threads = flags.threads;
    const files = [path.resolve(model), ...(flags.compare ? [path.resolve(flags.compare)] : [])];
    for (const f of files) {
      loadInputModel(f);
      await validateModelFile(f);
    }
    const report = await benchmarkModel(files[0]!, opts);
    const ref = files[1] ? await benchmarkModel(files[1], opts) : undefined;
    const speedup = ref ? ref.latencyMs.mean / report.latencyMs.mean : undefined;
    if (flags.json) printJson(io, ref ? { ...report, compare: ref, speedup } : report);
    else {
      io.out(`${formatBenchReport(report)}\n`);
      if (ref) io.out(`\n${formatBenchReport(ref)}\n\nspeed-up    ${speedup!.toFixed(2)}× (mean latency of ${path.basename(files[1]!)} / ${path.basename(files[0]!)})\n`);
    }
  });
}
