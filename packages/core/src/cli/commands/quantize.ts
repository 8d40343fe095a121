import path from 'node:path';
import type { Command } from 'commander';
import type { CalibrationSettings, ResolvedConfig } from '../../config/types.js';
import { UsageError } from '../errors.js';
import { addCommonOptions, cliPluginSpecs, collect, keyValue, outputPath, positiveInt, printJson, type CliIO } from '../options.js';

interface QuantizeFlags {
  output?: string;
  backend?: string;
  calib?: string | false;
  calibrator?: string;
  calibOption?: Record<string, unknown>;
  inputCalibrator?: string;
  batchSize?: number;
  limit?: number;
  histogramStride?: number;
  inputName?: string;
  plugin?: string[];
  backendOption?: Record<string, unknown>;
  config?: string;
  json?: boolean;
  progress?: boolean;
  allowNonfiniteWeights?: boolean;
}

export function registerQuantize(program: Command, io: CliIO): void {
  const cmd = program
    .command('quantize')
    .description('quantize an FP32 ONNX model for a backend: transform, insert Q/DQ, calibrate, save')
    .argument('<model>', 'FP32 ONNX model')
    .option('-o, --output <file>', 'where the QDQ ONNX model goes (never the input model)')
    .option('-b, --backend <name>', 'backend: tensorrt, reference, a package name or a path (default: tensorrt)')
    .option('--calib <data>', 'calibration data: a .npy file, a folder of .npy files or images, or a JS/TS data module')
    .option('--no-calib', 'skip calibration: activation scales stay placeholders (to inspect or time the placement)')
    .option('--calibrator <method>', "calibration method: entropy, percentile, mse, minmax, or a plugin's (default: the backend's; mse for tensorrt, minmax for reference)")
    .option('--input-calibrator <method>', 'method for quantizers on the model inputs, or "same" (default: minmax)')
    .option('--calib-option <key=value>', 'an option of the calibration method, e.g. percentile=99.99 (repeatable)', keyValue)
    .option('--batch-size <n>', 'calibration batch size (default: 32)', positiveInt)
    .option('--limit <n>', 'calibrate on at most n samples', positiveInt)
    .option('--histogram-stride <k>', 'histogram methods count 4-D feature maps on every k-th row and column (default: 2; 1: every value)', positiveInt)
    .option('--input-name <name>', 'model input the calibration data feeds (default: the only input)')
    .option('--backend-option <key=value>', 'a backend pattern option, e.g. minLinearSize=0 for tensorrt (repeatable)', keyValue)
    .option('--plugin <spec>', 'load a plugin package or file first (repeatable)', collect)
    .option('-c, --config <file>', 'take backend, plugins, quant and calibration settings from a config file (flags win)')
    .option('--allow-nonfinite-weights', 'quantize weights that hold NaN or ±Inf (with a warning) instead of refusing the model');
  addCommonOptions(cmd, { progress: true, json: true });
  cmd.addHelpText(
    'after',
    '\nExamples:\n  qdeploy quantize model.onnx -o model.int8.onnx --backend tensorrt --calib calib.npy\n  qdeploy quantize model.onnx -o model.int8.onnx --calib images/ --calibrator percentile --calib-option percentile=99.99',
  );
  cmd.action(async (model: string, flags: QuantizeFlags) => {
    const { loadConfig } = await import('../../config/load.js');
    const { formatQuantizeSummary, quantizeModel } = await import('../pipeline/index.js');
    const config: ResolvedConfig | undefined = flags.config ? await loadConfig(flags.config) : undefined;
    const output = flags.output !== undefined ? outputPath(flags.output) : config?.output;
    if (!output) throw new UsageError('missing the output path: give -o <file>');

    let calibration: CalibrationSettings | null;
    if (flags.calib === false) calibration = null;
    else {
      const base = config?.calibration;
      const data = typeof flags.calib === 'string' ? path.resolve(flags.calib) : base?.data;
      if (!data) throw new UsageError('no calibration data: give --calib <data> (or --no-calib to save placeholder scales)');
      calibration = { ...base, data };
      if (flags.calibrator !== undefined) calibration.method = flags.calibrator;
      if (flags.inputCalibrator !== undefined) calibration.inputMethod = flags.inputCalibrator === 'same' ? null : flags.inputCalibrator;
      if (flags.calibOption) calibration.options = { ...base?.options, ...flags.calibOption };
      if (flags.batchSize !== undefined) calibration.batchSize = flags.batchSize;
      if (flags.limit !== undefined) calibration.limit = flags.limit;
      if (flags.histogramStride !== undefined) calibration.histogramStride = flags.histogramStride;
      if (flags.inputName !== undefined) calibration.inputName = flags.inputName;
    }
    const summary = await quantizeModel({
      model: path.resolve(model),
      output,
      backend: flags.backend ?? config?.backend ?? 'tensorrt',
      backendOptions: flags.backendOption || config?.backendOptions ? { ...config?.backendOptions, ...flags.backendOption } : undefined,
      plugins: [...(config?.plugins ?? []), ...cliPluginSpecs(flags.plugin)],
      from: config?.dir ?? process.cwd(),
      quant: config?.quant,
      calibration,
      progress: flags.progress,
      ...(config ? { protect: [config.file] } : {}),
      ...(flags.allowNonfiniteWeights ? { allowNonFinite: true } : {}),
      log: (line) => io.err(`${line}\n`),
    });
    if (flags.json) printJson(io, summary);
    else io.out(`${formatQuantizeSummary(summary)}\n`);
  });
}
