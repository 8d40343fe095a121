/**
 * The options quantize, analyze and tune share (backend, calibration, placement), and
 * how they turn into the pipeline's settings over a config file's.
 */
import path from 'node:path';
import type { Command } from 'commander';
import type { CalibrationSettings, QuantSettings, ResolvedConfig } from '../config/types.js';
import { UsageError } from './errors.js';
import { cliPluginSpecs, collect, keyValue, positiveInt } from './options.js';
import { addExcludeOptions, withExcludeFlags, type ExcludeFlags } from './placement-options.js';

export interface QuantizeFlags extends ExcludeFlags {
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
  activationBits?: number;
  weightBits?: number;
  report?: string;
  json?: boolean;
  progress?: boolean;
}

function bits(value: string): number {
  const n = positiveInt(value);
  if (n < 2 || n > 8) throw new UsageError(`expected a bit width from 2 to 8, got ${value}`);
  return n;
}

/** Backend, calibration and placement options (no output, no --no-calib). */
export function addQuantizeOptions(cmd: Command): Command {
  cmd
    .option('-b, --backend <name>', 'backend: tensorrt, reference, a package name or a path (default: tensorrt)')
    .option('--calib <data>', 'calibration data: a .npy file, a folder of .npy files or images, or a JS/TS data module')
    .option('--calibrator <method>', "calibration method: entropy, percentile, mse, minmax, or a plugin's (default: the backend's; mse for tensorrt, minmax for reference)")
    .option('--input-calibrator <method>', 'method for quantizers on the model inputs, or "same" (default: minmax)')
    .option('--calib-option <key=value>', 'an option of the calibration method, e.g. percentile=99.99 (repeatable)', keyValue)
    .option('--batch-size <n>', 'calibration batch size (default: 32)', positiveInt)
    .option('--limit <n>', 'calibrate on at most n samples', positiveInt)
    .option('--histogram-stride <k>', 'histogram methods count 4-D feature maps on every k-th row and column (default: 2; 1: every value)', positiveInt)
    .option('--input-name <name>', 'model input the calibration data feeds (default: the only input)')
    .option('--backend-option <key=value>', 'a backend pattern option, e.g. minLinearSize=0 for tensorrt (repeatable)', keyValue)
    .option('--plugin <spec>', 'load a plugin package or file first (repeatable)', collect)
    .option('-c, --config <file>', 'take backend, plugins, quant and calibration settings from a config file (flags win)');
  return addExcludeOptions(addBitOptions(cmd));
}

/** --activation-bits / --weight-bits. */
export function addBitOptions(cmd: Command): Command {
  return cmd
    .option('--activation-bits <n>', 'activation bit width, 2 to 8 (default 8; below 8 is a simulation: TensorRT has no such kernels)', bits)
    .option('--weight-bits <n>', 'weight bit width, 2 to 8 (default 8)', bits);
}

/** The calibration settings: the config's, with the flags over them; null for --no-calib. */
export function calibrationFromFlags(flags: QuantizeFlags, config: ResolvedConfig | undefined): CalibrationSettings | null {
  if (flags.calib === false) return null;
  const base = config?.calibration;
  const data = typeof flags.calib === 'string' ? path.resolve(flags.calib) : base?.data;
  if (!data) throw new UsageError('no calibration data: give --calib <data> (or --no-calib to save placeholder scales)');
  const calibration: CalibrationSettings = { ...base, data };
  if (flags.calibrator !== undefined) calibration.method = flags.calibrator;
  if (flags.inputCalibrator !== undefined) calibration.inputMethod = flags.inputCalibrator === 'same' ? null : flags.inputCalibrator;
  if (flags.calibOption) calibration.options = { ...base?.options, ...flags.calibOption };
  if (flags.batchSize !== undefined) calibration.batchSize = flags.batchSize;
  if (flags.limit !== undefined) calibration.limit = flags.limit;
  if (flags.histogramStride !== undefined) calibration.histogramStride = flags.histogramStride;
  if (flags.inputName !== undefined) calibration.inputName = flags.inputName;
  return calibration;
}

/** The config's quant settings with the flags' bit widths and exclusions over them. */
export function quantFromFlags(flags: ExcludeFlags & { activationBits?: number; weightBits?: number }, config: ResolvedConfig | undefined): QuantSettings | undefined {
  let quant = withExcludeFlags(config?.quant, flags);
  if (flags.activationBits !== undefined) quant = { ...quant, activation: { ...quant?.activation, nBits: flags.activationBits } };
  if (flags.weightBits !== undefined) quant = { ...quant, weight: { ...quant?.weight, nBits: flags.weightBits } };
  return quant;
}

/** Backend, plugins and settings common to the pipeline functions. */
export function pipelineFromFlags(flags: QuantizeFlags, config: ResolvedConfig | undefined) {
  return {
    backend: flags.backend ?? config?.backend ?? 'tensorrt',
    backendOptions: flags.backendOption || config?.backendOptions ? { ...config?.backendOptions, ...flags.backendOption } : undefined,
    plugins: [...(config?.plugins ?? []), ...cliPluginSpecs(flags.plugin)],
    from: config?.dir ?? process.cwd(),
    quant: quantFromFlags(flags, config),
    calibration: calibrationFromFlags(flags, config),
    progress: flags.progress,
  };
}
