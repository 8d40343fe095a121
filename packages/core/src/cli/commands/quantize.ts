import path from 'node:path';
import type { Command } from 'commander';
import type { ResolvedConfig } from '../../config/types.js';
import { defaultOutput } from '../default-output.js';
import { addCommonOptions, outputPath, printJson, type CliIO } from '../options.js';
import { addQuantizeOptions, OLDER_CALIBRATION_SPELLINGS, pipelineFromFlags, type QuantizeFlags } from '../quantize-flags.js';

interface QuantizeCommandFlags extends QuantizeFlags {
  force?: boolean;
}

export function registerQuantize(program: Command, io: CliIO): void {
  const cmd = program
    .command('quantize')
    .description('quantize an FP32 ONNX model for a backend: transform, insert Q/DQ, calibrate, save')
    .argument('<model>', 'FP32 ONNX model')
    .option('-o, --output <file>', 'where the QDQ ONNX model goes (never the input model; default: <name>.int8.onnx beside the input)')
    .option('--force', 'let the default output (<name>.int8.onnx) replace an existing file');
  addQuantizeOptions(cmd).option('--report <file.html>', 'also write a self-contained HTML report (graph with the placement, histograms, summary)');
  addCommonOptions(cmd, { progress: true, json: true });
  cmd.addHelpText(
    'after',
    `\nExamples:\n  qdeploy quantize model.onnx -o model.int8.onnx --backend tensorrt --calibration-data calib.npy\n  qdeploy quantize model.onnx -o model.int8.onnx --calibration-data images/ --calibration-method percentile --calibration-option percentile=99.99\n\n${OLDER_CALIBRATION_SPELLINGS}`,
  );
  cmd.action(async (model: string, flags: QuantizeCommandFlags) => {
    const { loadConfig } = await import('../../config/load.js');
    const { formatQuantizeSummary, quantizeModel } = await import('../pipeline/index.js');
    const config: ResolvedConfig | undefined = flags.config ? await loadConfig(flags.config) : undefined;
    const output = flags.output !== undefined ? outputPath(flags.output) : config?.output ?? (await defaultOutput(path.resolve(model), flags.force === true));
    const summary = await quantizeModel({
      model: path.resolve(model),
      output,
      ...pipelineFromFlags(flags, config),
      report: flags.report !== undefined ? path.resolve(flags.report) : undefined,
      ...(config ? { protect: [config.file] } : {}),
      log: (line) => io.err(`${line}\n`),
    });
    if (flags.json) printJson(io, summary);
    else io.out(`${formatQuantizeSummary(summary)}\n`);
  });
}
