import path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { addCommonOptions, oneOfChoice, positiveInt, printJson, type CliIO } from '../options.js';

interface EvalFlags {
  data: string;
  labels: string;
  ref?: string;
  batchSize?: number;
  limit?: number;
  json?: boolean;
  progress?: boolean;
  emulate?: 'fp16' | 'bf16';
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
    .option('--limit <n>', 'evaluate at most n samples', positiveInt)
    .option('--emulate <type>', 'run the float regions as a strongly typed engine would: fp16 or bf16, emulated with Cast pairs on the FP32 model (policy defaults)', oneOfChoice(['fp16', 'bf16'] as const));
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
    // A strongly typed model runs as written: onnxruntime's graph optimisations change its
    // FP16 arithmetic (measured on the fmnist ResNet: 14.6 dB SQNR against the FP32-float
    // export with them, 40 dB without, the same as Cast-pair emulation). --emulate rounds
    // an FP32 model's float regions with Cast pairs instead.
    const { loadModel } = await import('../../onnx/load.js');
    const { modelFloatType, toStronglyTyped } = await import('../../precision/index.js');
    const { modelToBytes } = await import('../../onnx/save.js');
    const loaded = loadModel(file);
    const typed = modelFloatType(loaded);
    if (typed === 'bf16') throw new UsageError(`${file}: a BF16 model does not run on onnxruntime's CPU provider; evaluate its FP32 export with --emulate bf16`);
    if (typed && flags.emulate) throw new UsageError(`${file} is already ${typed.toUpperCase()} (strongly typed): --emulate applies to an FP32 model`);
    const source = flags.emulate ? modelToBytes(toStronglyTyped(loaded, { float: flags.emulate, emulate: true }).model) : file;
    const report = await evaluateModel(source, {
      ...(typed || flags.emulate ? { sessionOptions: { graphOptimizationLevel: 'disabled' as const, logSeverityLevel: 3 as const } } : {}),
      data: path.resolve(flags.data),
      labels: path.resolve(flags.labels),
      ...(flags.ref ? { ref: path.resolve(flags.ref) } : {}),
      ...(flags.batchSize !== undefined ? { batchSize: flags.batchSize } : {}),
      ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
      progress: flags.progress !== false && process.stderr.isTTY === true,
    });
    if (typeof source !== 'string') report.model = file;
    if (report.labelsOutOfRange) io.err(`qdeploy: warning: ${labelWarning(report)}\n`);
    if (flags.json) printJson(io, report);
    else io.out(`${formatEvalReport(report)}\n`);
  });
}
