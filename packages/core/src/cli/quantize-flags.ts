/**
 * The options quantize, analyze and tune share (backend, calibration, placement), and
 * how they turn into the pipeline's settings over a config file's.
 */
import type { Command } from 'commander';
import { addPipelineOptions, calibrationSettings } from './commands/quantize.js';
import type { CalibrationSettings, QuantSettings, ResolvedConfig } from '../config/types.js';
import { UsageError } from './errors.js';
import { cliPluginSpecs, positiveInt } from './options.js';
import { addExcludeOptions, withExcludeFlags, type ExcludeFlags } from './placement-options.js';

export interface QuantizeFlags extends ExcludeFlags {
  output?: string;
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
  activationBits?: number;
  weightBits?: number;
  allowNonfiniteWeights?: boolean;
  report?: string;
  json?: boolean;
  progress?: boolean;
}

/** Said under each command's --help, since the older spellings are hidden. */
export const OLDER_CALIBRATION_SPELLINGS = 'Older spellings still accepted: --calib, --no-calib, --calibrator, --input-calibrator, --calib-option.';

function bits(value: string): number {
  const n = positiveInt(value);
  if (n < 2 || n > 8) throw new UsageError(`expected a bit width from 2 to 8, got ${value}`);
  return n;
}

/** quantize's backend, calibration (data, method, image preprocessing) and placement options, defined once in commands/quantize.ts. */
export function addQuantizeOptions(cmd: Command): Command {
  return addExcludeOptions(addBitOptions(addPipelineOptions(cmd)));
}

/** --activation-bits / --weight-bits. */
export function addBitOptions(cmd: Command): Command {
  return cmd
    .option('--activation-bits <n>', 'activation bit width, 2 to 8 (default 8; below 8 is a simulation: TensorRT has no such kernels)', bits)
    .option('--weight-bits <n>', 'weight bit width, 2 to 8 (default 8)', bits);
}

/** The calibration settings (quantize's, from commands/quantize.ts); null for --no-calib. */
export function calibrationFromFlags(flags: QuantizeFlags, config: ResolvedConfig | undefined): CalibrationSettings | null {
  if (flags.calib === false || flags.calibration === false) return null;
  return calibrationSettings(flags, config);
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
    ...(flags.allowNonfiniteWeights ? { allowNonFinite: true } : {}),
  };
}
