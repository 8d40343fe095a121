import path from 'node:path';
import type { Command } from 'commander';
import type { ResolvedConfig } from '../../config/types.js';
import { UsageError } from '../errors.js';
import { addCommonOptions, printJson, type CliIO } from '../options.js';
import { addQuantizeOptions, pipelineFromFlags, type QuantizeFlags } from '../quantize-flags.js';

export function registerQuantize(program: Command, io: CliIO): void {
  const cmd = program
    .command('quantize')
    .description('quantize an FP32 ONNX model for a backend: transform, insert Q/DQ, calibrate, save')
    .argument('<model>', 'FP32 ONNX model')
    .option('-o, --output <file>', 'where the QDQ ONNX model goes (never the input model)');
  addQuantizeOptions(cmd)
    .option('--no-calib', 'skip calibration: activation scales stay placeholders (to inspect or time the placement)')
    .option('--report <file.html>', 'also write a self-contained HTML report (graph with the placement, histograms, summary)');
  addCommonOptions(cmd, { progress: true, json: true });
  cmd.addHelpText(
    'after',
    '\nExamples:\n  qdeploy quantize model.onnx -o model.int8.onnx --backend tensorrt --calib calib.npy\n  qdeploy quantize model.onnx -o model.int8.onnx --calib images/ --calibrator percentile --calib-option percentile=99.99\n  qdeploy quantize model.onnx -o model.int8.onnx --calib calib.npy --exclude-op-types Gemm --exclude-nodes "/^head\\//"',
  );
  cmd.action(async (model: string, flags: QuantizeFlags) => {
    const { loadConfig } = await import('../../config/load.js');
    const { formatQuantizeSummary, quantizeModel } = await import('../pipeline/index.js');
    const config: ResolvedConfig | undefined = flags.config ? await loadConfig(flags.config) : undefined;
    const output = flags.output !== undefined ? path.resolve(flags.output) : config?.output;
    if (!output) throw new UsageError('missing the output path: give -o <file>');
    const summary = await quantizeModel({
      model: path.resolve(model),
      output,
      ...pipelineFromFlags(flags, config),
      report: flags.report !== undefined ? path.resolve(flags.report) : undefined,
      log: (line) => io.err(`${line}\n`),
    });
    if (flags.json) printJson(io, summary);
    else io.out(`${formatQuantizeSummary(summary)}\n`);
  });
}
