import path from 'node:path';
import type { Command } from 'commander';
import { addCommonOptions, positiveInt, printJson, type CliIO } from '../options.js';
import { addQuantizeOptions, pipelineFromFlags, type QuantizeFlags } from '../quantize-flags.js';

interface AnalyzeFlags extends QuantizeFlags {
  data: string;
  labels?: string;
  dataLimit?: number;
}

export function registerAnalyze(program: Command, io: CliIO): void {
  const cmd = program
    .command('analyze')
    .description('rank every quantized match by the damage it does: output SQNR with only it quantized and with all but it, each stub\'s SQNR, top-1 / agreement')
    .argument('<model>', 'FP32 ONNX model')
    .requiredOption('--data <x.npy>', 'data the sensitivity is measured on')
    .option('--labels <y.npy>', 'labels of --data (top-1)')
    .option('--data-limit <n>', 'use at most n samples of --data', positiveInt)
    .option('--report <file.html>', 'also write a self-contained HTML report (graph, sensitivity chart, histograms)');
  addQuantizeOptions(cmd);
  addCommonOptions(cmd, { progress: true, json: true });
  cmd.addHelpText('after', '\nExample:\n  qdeploy analyze model.onnx --calib calib.npy --data val_x.npy --labels val_y.npy --report sensitivity.html');
  cmd.action(async (model: string, flags: AnalyzeFlags) => {
    const { loadConfig } = await import('../../config/load.js');
    const { analyzeModel, formatAnalyzeReport } = await import('../pipeline/index.js');
    const config = flags.config ? await loadConfig(flags.config) : undefined;
    const summary = await analyzeModel({
      model: path.resolve(model),
      ...pipelineFromFlags(flags, config),
      data: path.resolve(flags.data),
      labels: flags.labels !== undefined ? path.resolve(flags.labels) : undefined,
      dataLimit: flags.dataLimit,
      report: flags.report !== undefined ? path.resolve(flags.report) : undefined,
      log: (line) => io.err(`${line}\n`),
    });
    if (flags.json) printJson(io, summary);
    else io.out(`${formatAnalyzeReport(summary)}\n`);
  });
}
