import type { QuantizeModelOptions } from '../pipeline/quantize.js';
import path from 'node:path';
import { Option, type Command } from 'commander';
import type { CalibrationSettings, ResolvedConfig } from '../../config/types.js';
import { UsageError } from '../errors.js';
import { defaultOutput } from '../default-output.js';
import { NORMALIZATION_PRESETS, type NormalizationPreset } from '../../calibrate/data/normalize.js';
import { addCommonOptions, cliPluginSpecs, collect, keyValue, oneOfChoice, outputPath, positiveInt, printJson, type CliIO } from '../options.js';
import { cropSize, fraction, numberList } from '../number-options.js';
import { addExcludeOptions } from '../placement-options.js';
import { addBitOptions, quantFromFlags, type QuantizeFlags as SharedQuantizeFlags } from '../quantize-flags.js';

/** quantize's flags: the options it shares with analyze and tune, plus its own. */
export interface QuantizeFlags extends Omit<SharedQuantizeFlags, 'calibration'> {
  force?: boolean;
  /** --calibration <file> (a saved calibration), or false from --no-calibration. */
  calibration?: string | boolean;
  float?: 'fp32' | 'fp16' | 'bf16';
  io?: 'original' | 'fp32' | 'fp16' | 'bf16';
  keepFp32?: string[];
}

export const floatChoice = oneOfChoice(['fp32', 'fp16', 'bf16'] as const);
const ioChoice = oneOfChoice(['original', 'fp32', 'fp16', 'bf16'] as const);

export function registerQuantize(program: Command, io: CliIO): void {
  const cmd = program
    .command('quantize')
    .description('quantize an FP32 ONNX model for a backend: transform, insert Q/DQ, calibrate, save')
    .argument('<model>', 'FP32 ONNX model')
    .option('-o, --output <file>', 'where the QDQ ONNX model goes (never the input model; default: <name>.int8.onnx beside the input)')
    .option('--force', 'let the default output (<name>.int8.onnx) replace an existing file')
    .option('--calibration <file>', 'apply a saved calibration (qdeploy calibrate / merge-calibration) instead of running data')
    .option('--no-calibration', 'skip calibration: activation scales stay placeholders (to inspect or time the placement)')
    .addOption(new Option('--no-calib', 'older name of --no-calibration').hideHelp());
  addPipelineOptions(cmd);
  addExcludeOptions(addBitOptions(cmd)).option('--report <file.html>', 'also write a self-contained HTML report (graph with the placement, histograms, summary)');
  cmd
    .option('--float <type>', 'float regions: fp32 (default; the builder picks precisions), fp16 or bf16 (strongly typed, for TensorRT 10 --stronglyTyped / TensorRT 11)', floatChoice)
    .option('--io <type>', 'with --float: type of the model inputs/outputs: original (default), fp32, fp16, bf16', ioChoice)
    .option('--keep-fp32 <name>', 'with --float: keep this node name or op type in FP32 (repeatable)', collect);
  addCommonOptions(cmd, { progress: true, json: true });
  cmd.addHelpText(
    'after',
    '\nExamples:\n  qdeploy quantize model.onnx -o model.int8.onnx --backend tensorrt --calibration-data calib.npy\n  qdeploy quantize model.onnx -o model.int8.onnx --calibration-data images/ --calibration-method percentile --calibration-option percentile=99.99\n  qdeploy quantize model.onnx -o model.int8.onnx --calibration states.json\n\nOlder spellings still accepted: --calib, --no-calib, --calibrator, --input-calibrator, --calib-option.',
  );
  cmd.action(async (model: string, flags: QuantizeFlags) => {
    const { formatQuantizeSummary, quantizeModel } = await import('../pipeline/index.js');
    const summary = await quantizeModel(await quantizeOptionsFromFlags(model, flags, io));
    if (flags.json) printJson(io, summary);
    else io.out(`${formatQuantizeSummary(summary)}\n`);
  });
}

/** quantize's flags (over a config file's settings) as the pipeline's options; `train` builds on them too. */
export async function quantizeOptionsFromFlags(model: string, flags: QuantizeFlags, io: CliIO): Promise<QuantizeModelOptions & { config?: ResolvedConfig }> {
  const { loadConfig } = await import('../../config/load.js');
  const config: ResolvedConfig | undefined = flags.config ? await loadConfig(flags.config) : undefined;
  const output = flags.output !== undefined ? outputPath(flags.output) : config?.output ?? (await defaultOutput(path.resolve(model), flags.force === true));

  const calibrationFile = typeof flags.calibration === 'string' ? flags.calibration : undefined;
  if (calibrationFile !== undefined && (flags.calibrationData !== undefined || typeof flags.calib === 'string')) {
    throw new UsageError('give --calibration-data <data> or --calibration <file>, not both');
  }
  const calibration = calibrationFile !== undefined || flags.calib === false || flags.calibration === false ? null : calibrationSettings(flags, config);
  return {
    config,
    ...pipelineSettings(model, flags, config),
    output,
    calibration,
    calibrationFile: calibrationFile !== undefined ? path.resolve(calibrationFile) : undefined,
    calibrationFileOptions: calibrationFile !== undefined ? calibrationOptionFlags(flags) : undefined,
    report: flags.report !== undefined ? path.resolve(flags.report) : undefined,
    progress: flags.progress,
    ...(flags.float ?? config?.export ? { export: { ...config?.export, ...(flags.float ? { float: flags.float } : {}), ...(flags.io ? { io: flags.io } : {}), ...(flags.keepFp32 ? { keepFp32: [...(config?.export?.keepFp32 ?? []), ...flags.keepFp32] } : {}) } } : {}),
    log: (line) => io.err(`${line}\n`),
  };
}

/** The options quantize and calibrate share: backend, plugins, calibration data, method and normalisation. */
export function addPipelineOptions(cmd: Command): Command {
  return cmd
    .option('-b, --backend <name>', 'backend: tensorrt, reference, a package name or a path (default: tensorrt)')
    // One vocabulary: each flag is its config key (calibration.data → --calibration-data).
    .option('--calibration-data <data>', 'calibration data: a .npy file, an .npz archive (one array per model input), a folder of .npy files or images, or a JS/TS data module (config calibration.data)')
    .option('--calibration-method <method>', "calibration method: entropy, percentile, mse, minmax (or max), or a plugin's; any case (default: the backend's; mse for tensorrt, minmax for reference)")
    .option('--calibration-input-method <method>', 'method for quantizers on the model inputs, or "same" (default: minmax)')
    .option('--calibration-option <key=value>', 'an option of the calibration method, e.g. percentile=99.99 (repeatable; config calibration.options)', keyValue)
    .addOption(new Option('--calib <data>', 'older name of --calibration-data').hideHelp())
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
}

/** The --calibration-option flags (and their older spelling), merged. */
function calibrationOptionFlags(flags: QuantizeFlags): Record<string, unknown> | undefined {
  return flags.calibOption || flags.calibrationOption ? { ...flags.calibOption, ...flags.calibrationOption } : undefined;
}

/** Calibration settings from the flags over the config's; calibration data (flag or config) is required. */
export function calibrationSettings(flags: QuantizeFlags, config: ResolvedConfig | undefined): CalibrationSettings {
  const dataFlag = flags.calibrationData ?? (typeof flags.calib === 'string' ? flags.calib : undefined);
  const methodFlag = flags.calibrationMethod ?? flags.calibrator;
  const inputMethodFlag = flags.calibrationInputMethod ?? flags.inputCalibrator;
  const optionFlags = calibrationOptionFlags(flags);
  const base = config?.calibration;
  const data = dataFlag !== undefined ? path.resolve(dataFlag) : base?.data;
  if (!data) throw new UsageError('no calibration data: give --calibration-data <data> (or --no-calibration to save placeholder scales)');
  const calibration: CalibrationSettings = { ...base, data };
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
  return calibration;
}

/** Model, backend, plugins and quant settings from the flags over the config's. */
export function pipelineSettings(model: string, flags: QuantizeFlags, config: ResolvedConfig | undefined) {
  return {
    model: path.resolve(model),
    backend: flags.backend ?? config?.backend ?? 'tensorrt',
    backendOptions: flags.backendOption || config?.backendOptions ? { ...config?.backendOptions, ...flags.backendOption } : undefined,
    plugins: [...(config?.plugins ?? []), ...cliPluginSpecs(flags.plugin)],
    from: config?.dir ?? process.cwd(),
    quant: quantFromFlags(flags, config),
    ...(config ? { protect: [config.file] } : {}),
    ...(flags.allowNonfiniteWeights ? { allowNonFinite: true } : {}),
  };
}
