import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { ResolvedConfig } from '../../config/types.js';
import { UsageError } from '../errors.js';
import { addCommonOptions, positiveInt, printJson, type CliIO } from '../options.js';
import { addQuantizeOptions, pipelineFromFlags, type QuantizeFlags } from '../quantize-flags.js';

interface TuneFlags extends QuantizeFlags {
  data?: string;
  labels?: string;
  holdout?: string;
  holdoutLabels?: string;
  dataLimit?: number;
  metric?: 'top1' | 'agreement' | 'sqnr';
  maxDrop?: number;
  minSqnr?: number;
  buildSteps?: boolean;
}

function nonNegative(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a non-negative number.');
  return n;
}

function metric(value: string): 'top1' | 'agreement' | 'sqnr' {
  if (value !== 'top1' && value !== 'agreement' && value !== 'sqnr') throw new InvalidArgumentError('expected top1, agreement or sqnr.');
  return value;
}

export function registerTune(program: Command, io: CliIO): void {
  const cmd = program
    .command('tune')
    .description('mixed precision under an accuracy budget: leave the most sensitive matches in float (or at 8 bits below 8) until the budget holds, then check held-out data')
    .argument('<model>', 'FP32 ONNX model')
    .option('-o, --output <file>', 'where the tuned QDQ ONNX model goes')
    .option('--data <x.npy>', 'tuning data')
    .option('--labels <y.npy>', 'labels of --data (needed for --metric top1)')
    .option('--holdout <x.npy>', 'held-out data the result is checked on (default: the second half of --data)')
    .option('--holdout-labels <y.npy>', 'labels of --holdout')
    .option('--data-limit <n>', 'use at most n samples of --data', positiveInt)
    .option('--metric <m>', 'top1 (needs labels), agreement (argmax vs FP32) or sqnr (default: top1 with labels, else agreement)', metric)
    .option('--max-drop <points>', 'largest allowed top-1 / agreement drop in points (default 1)', nonNegative)
    .option('--min-sqnr <dB>', 'smallest allowed output SQNR with --metric sqnr (default 20)', nonNegative)
    .option('--build-steps', "build each step's model with the backend's builder (TensorRT: trtexec) and print its latency")
    .option('--report <file.html>', 'also write a self-contained HTML report (graph, sensitivity, search, histograms)');
  addQuantizeOptions(cmd);
  addCommonOptions(cmd, { progress: true, json: true });
  cmd.addHelpText('after', '\nExample:\n  qdeploy tune model.onnx -o model.tuned.onnx --calib calib.npy --data val_x.npy --labels val_y.npy --holdout test_x.npy --holdout-labels test_y.npy --max-drop 0.5');
  cmd.action(async (model: string, flags: TuneFlags) => {
    const { loadConfig } = await import('../../config/load.js');
    const { tuneModel, formatTuneReport } = await import('../pipeline/index.js');
    const config: ResolvedConfig | undefined = flags.config ? await loadConfig(flags.config) : undefined;
    const t = config?.tune;
    const output = flags.output !== undefined ? path.resolve(flags.output) : config?.output;
    if (!output) throw new UsageError('missing the output path: give -o <file>');
    const data = flags.data !== undefined ? path.resolve(flags.data) : t?.data;
    if (!data) throw new UsageError('no tuning data: give --data <x.npy>');
    const abs = (p: string | undefined) => (p !== undefined ? path.resolve(p) : undefined);
    const summary = await tuneModel({
      model: path.resolve(model),
      output,
      ...pipelineFromFlags(flags, config),
      data,
      labels: abs(flags.labels) ?? t?.labels,
      heldOut: abs(flags.holdout) ?? t?.heldOut,
      heldOutLabels: abs(flags.holdoutLabels) ?? t?.heldOutLabels,
      dataLimit: flags.dataLimit ?? t?.limit,
      metric: flags.metric ?? t?.metric,
      maxDrop: flags.maxDrop ?? t?.maxDrop,
      minSqnrDb: flags.minSqnr ?? t?.minSqnr,
      report: abs(flags.report),
      buildSteps: flags.buildSteps,
      buildOptions: config?.build ? Object.fromEntries(Object.entries(config.build).filter(([k]) => k !== 'enabled' && k !== 'output')) : undefined,
      log: (line) => io.err(`${line}\n`),
    });
    if (flags.json) printJson(io, summary);
    else io.out(`${formatTuneReport(summary)}\n`);
  });
}
