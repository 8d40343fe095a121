import path from 'node:path';
import { Option, type Command } from 'commander';
import type { CalibrationSettings, ResolvedConfig } from '../../config/types.js';
import { UsageError } from '../errors.js';
import { defaultOutput } from '../default-output.js';
import { NORMALIZATION_PRESETS, type NormalizationPreset } from '../../calibrate/data/normalize.js';
import { addCommonOptions, cliPluginSpecs, collect, keyValue, outputPath, positiveInt, printJson, type CliIO } from '../options.js';
import { cropSize, fraction, numberList } from '../number-options.js';
import { addExcludeOptions, type ExcludeFlags } from '../placement-options.js';
import { addBitOptions, quantFromFlags } from '../quantize-flags.js';

interface QuantizeFlags extends ExcludeFlags {
  report?: string;
  activationBits?: number;
  weightBits?: number;
  output?: string;
  force?: boolean;
  backend?: string;
  calibrationData?: string;
  calibration?: boolean;
  calibrationMethod?: string;
  calibrationOption?: Record<string, unknown>;
  calibrationInputMethod?: string;
  // Older spellings, still accepted (hidden from --help).
  calib?: string | false;
  calibrator?: string;
  calibOption?: Record<string, unknown>;
  inputCalibrator?: string;
  batchSize?: number;
  limit?: number;
  histogramStride?: number;
  inputName?: string;
  normalize?: string;
  mean?: number[];
  std?: number[];
  scale?: number;
  resize?: number;
  crop?: number | [number, number];
  layout?: 'nchw' | 'nhwc';
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
    .option('-o, --output <file>', 'where the QDQ ONNX model goes (never the input model; default: <name>.int8.onnx beside the input)')
    .option('--force', 'let the default output (<name>.int8.onnx) replace an existing file')
    .option('-b, --backend <name>', 'backend: tensorrt, reference, a package name or a path (default: tensorrt)')
    // One vocabulary: each flag is its config key (calibration.data → --calibration-data).
    .option('--calibration-data <data>', 'calibration data: a .npy file, an .npz archive (one array per model input), a folder of .npy files or images, or a JS/TS data module (config calibration.data)')
    .option('--no-calibration', 'skip calibration: activation scales stay placeholders (to inspect or time the placement)')
    .option('--calibration-method <method>', "calibration method: entropy, percentile, mse, minmax (or max), or a plugin's; any case (default: the backend's; mse for tensorrt, minmax for reference)")
    .option('--calibration-input-method <method>', 'method for quantizers on the model inputs, or "same" (default: minmax)')
    .option('--calibration-option <key=value>', 'an option of the calibration method, e.g. percentile=99.99 (repeatable; config calibration.options)', keyValue)
    .addOption(new Option('--calib <data>', 'older name of --calibration-data').hideHelp())
    .addOption(new Option('--no-calib', 'older name of --no-calibration').hideHelp())
    .addOption(new Option('--calibrator <method>', 'older name of --calibration-method').hideHelp())
    .addOption(new Option('--input-calibrator <method>', 'older name of --calibration-input-method').hideHelp())
    .addOption(new Option('--calib-option <key=value>', 'older name of --calibration-option').hideHelp().argParser(keyValue))
    .option('--batch-size <n>', 'calibration batch size (default: 32)', positiveInt)
    .option('--limit <n>', 'calibrate on at most n samples', positiveInt)
    .option('--histogram-stride <k>', 'histogram methods count 4-D feature maps on every k-th row and column (default: 2; 1: every value)', positiveInt)
    .option('--input-name <name>', 'model input the calibration data feeds (default: the only input)')
    .option('--normalize <preset>', `normalisation preset: ${Object.keys(NORMALIZATION_PRESETS).join(', ')} (config calibration.normalize.preset)`)
    .option('--mean <values>', 'per-channel mean subtracted after scaling, e.g. 0.485,0.456,0.406', numberList)
    .option('--std <values>', 'per-channel std divided by, e.g. 0.229,0.224,0.225', numberList)
    .option('--scale <x>', 'multiplies raw values first, e.g. 1/255 (images default to 1/255)', fraction)
    .option('--resize <n>', 'images: shorter side after resizing (torchvision Resize)', positiveInt)
    .option('--crop <size>', 'images: center crop, n or h,w (default: the model input size)', cropSize)
    .addOption(new Option('--layout <layout>', 'images: tensor layout (default: the model input\'s)').choices(['nchw', 'nhwc']))
    .option('--backend-option <key=value>', 'a backend pattern option, e.g. minLinearSize=0 for tensorrt (repeatable)', keyValue)
    .option('--plugin <spec>', 'load a plugin package or file first (repeatable)', collect)
    .option('-c, --config <file>', 'take backend, plugins, quant and calibration settings from a config file (flags win)')
    .option('--allow-nonfinite-weights', 'quantize weights that hold NaN or ±Inf (with a warning) instead of refusing the model');
  addExcludeOptions(addBitOptions(cmd)).option('--report <file.html>', 'also write a self-contained HTML report (graph with the placement, histograms, summary)');
  addCommonOptions(cmd, { progress: true, json: true });
  cmd.addHelpText(
    'after',
    '\nExamples:\n  qdeploy quantize model.onnx -o model.int8.onnx --backend tensorrt --calibration-data calib.npy\n  qdeploy quantize model.onnx -o model.int8.onnx --calibration-data images/ --calibration-method percentile --calibration-option percentile=99.99\n\nOlder spellings still accepted: --calib, --no-calib, --calibrator, --input-calibrator, --calib-option.',
  );
  cmd.action(async (model: string, flags: QuantizeFlags) => {
    const { loadConfig } = await import('../../config/load.js');
    const { formatQuantizeSummary, quantizeModel } = await import('../pipeline/index.js');
    const config: ResolvedConfig | undefined = flags.config ? await loadConfig(flags.config) : undefined;
    const output = flags.output !== undefined ? outputPath(flags.output) : config?.output ?? (await defaultOutput(path.resolve(model), flags.force === true));

    const dataFlag = flags.calibrationData ?? (typeof flags.calib === 'string' ? flags.calib : undefined);
    const methodFlag = flags.calibrationMethod ?? flags.calibrator;
    const inputMethodFlag = flags.calibrationInputMethod ?? flags.inputCalibrator;
    const optionFlags = flags.calibOption || flags.calibrationOption ? { ...flags.calibOption, ...flags.calibrationOption } : undefined;
    let calibration: CalibrationSettings | null;
    if (flags.calib === false || flags.calibration === false) calibration = null;
    else {
      const base = config?.calibration;
      const data = dataFlag !== undefined ? path.resolve(dataFlag) : base?.data;
      if (!data) throw new UsageError('no calibration data: give --calibration-data <data> (or --no-calibration to save placeholder scales)');
      calibration = { ...base, data };
      if (methodFlag !== undefined) calibration.method = methodFlag;
      if (inputMethodFlag !== undefined) calibration.inputMethod = inputMethodFlag === 'same' ? null : inputMethodFlag;
      if (optionFlags) calibration.options = { ...base?.options, ...optionFlags };
      if (flags.batchSize !== undefined) calibration.batchSize = flags.batchSize;
      if (flags.limit !== undefined) calibration.limit = flags.limit;
      if (flags.histogramStride !== undefined) calibration.histogramStride = flags.histogramStride;
      if (flags.inputName !== undefined) calibration.inputName = flags.inputName;
      const normalize = {
        ...calibration.normalize,
        ...(flags.normalize !== undefined ? { preset: flags.normalize.toLowerCase() as NormalizationPreset } : {}),
        ...(flags.mean !== undefined ? { mean: flags.mean } : {}),
        ...(flags.std !== undefined ? { std: flags.std } : {}),
        ...(flags.scale !== undefined ? { scale: flags.scale } : {}),
      };
      if (Object.keys(normalize).length) calibration.normalize = normalize;
      const image = {
        ...calibration.image,
        ...(flags.resize !== undefined ? { resize: flags.resize } : {}),
        ...(flags.crop !== undefined ? { crop: flags.crop } : {}),
        ...(flags.layout !== undefined ? { layout: flags.layout } : {}),
      };
      if (Object.keys(image).length) calibration.image = image;
    }
    const summary = await quantizeModel({
      model: path.resolve(model),
      output,
      backend: flags.backend ?? config?.backend ?? 'tensorrt',
      backendOptions: flags.backendOption || config?.backendOptions ? { ...config?.backendOptions, ...flags.backendOption } : undefined,
      plugins: [...(config?.plugins ?? []), ...cliPluginSpecs(flags.plugin)],
      from: config?.dir ?? process.cwd(),
      quant: quantFromFlags(flags, config),
      calibration,
      report: flags.report !== undefined ? path.resolve(flags.report) : undefined,
      progress: flags.progress,
      ...(config ? { protect: [config.file] } : {}),
      ...(flags.allowNonfiniteWeights ? { allowNonFinite: true } : {}),
      log: (line) => io.err(`${line}\n`),
    });
    if (flags.json) printJson(io, summary);
    else io.out(`${formatQuantizeSummary(summary)}\n`);
  });
}
