import path from 'node:path';
import type { Command } from 'commander';
import { addCommonOptions, positiveInt, printJson, type CliIO } from '../options.js';

interface EvalFlags {
  data: string;
  labels: string;
  ref?: string;
  batchSize?: number;
  limit?: number;
  json?: boolean;
  progress?: boolean;
}

export function registerEval(program: Command, io: CliIO): void {
  const cmd = program
    .command('eval')
    .description('top-1 accuracy of a classifier on labelled .npy data (onnxruntime, CPU), and agreement / SQNR against a reference model')
    .argument('<model>', 'ONNX model to evaluate (e.g. the QDQ model)')
    .requiredOption('--data <npy>', 'inputs: a .npy file (N × sample shape) or a folder of them')
    .requiredOption('--labels <npy>', 'labels: a .npy file of N class indices')
    .option('--ref <model>', 'reference model (usually the FP32 original) run on the same batches')
    .option('--batch-size <n>', 'samples per batch (default: 32)', positiveInt)
    .option('--limit <n>', 'evaluate at most n samples', positiveInt);
  addCommonOptions(cmd, { progress: true, json: true });
  cmd.action(async (model: string, flags: EvalFlags) => {
    const { evaluateModel, formatEvalReport, labelWarning } = await import('../../evaluate/index.js');
    const { loadInputModel, validateModelFile } = await import('../pipeline/index.js');
    const file = path.resolve(model);
    loadInputModel(file);
    await validateModelFile(file);
    if (flags.ref) {
      loadInputModel(path.resolve(flags.ref));
      await validateModelFile(path.resolve(flags.ref));
    }
    const report = await evaluateModel(file, {
      data: path.resolve(flags.data),
      labels: path.resolve(flags.labels),
      ...(flags.ref ? { ref: path.resolve(flags.ref) } : {}),
      ...(flags.batchSize !== undefined ? { batchSize: flags.batchSize } : {}),
      ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
      progress: flags.progress !== false && process.stderr.isTTY === true,
    });
    if (report.labelsOutOfRange) io.err(`qdeploy: warning: ${labelWarning(report)}\n`);
    if (flags.json) printJson(io, report);
    else io.out(`${formatEvalReport(report)}\n`);
  });
}
