import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { ResolvedConfig } from '../../config/types.js';
import { parseShard } from '../../calibrate/data/shard.js';
import { UsageError } from '../errors.js';
import { addCommonOptions, cliPluginSpecs, collect, outputPath, printJson, type CliIO } from '../options.js';
import { addPipelineOptions, calibrationSettings, pipelineSettings, type QuantizeFlags } from './quantize.js';

interface CalibrateFlags extends QuantizeFlags {
  statesOut?: string;
  shard?: { index: number; count: number };
}

const shardOption = (value: string) => {
  try {
    return parseShard(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};

/** `qdeploy calibrate` (one shard of the data → a calibration file) and `qdeploy merge-calibration`. */
export function registerCalibrate(program: Command, io: CliIO): void {
  const cmd = program
    .command('calibrate')
    .description('calibrate (a shard of) the data for the placement quantize makes, and save the states to merge or apply later')
    .argument('<model>', 'FP32 ONNX model')
    .option('--states-out <file>', 'where the calibration file goes (JSON)')
    .option('--shard <i/n>', 'calibrate only shard i of n (0-based; contiguous slices of the data, e.g. $JOB_COMPLETION_INDEX/8)', shardOption);
  addPipelineOptions(cmd);
  addCommonOptions(cmd, { progress: true, json: true });
  cmd.addHelpText(
    'after',
    '\nExamples:\n  qdeploy calibrate model.onnx --calibration-data calib/ --shard 0/4 --states-out shard_0.json\n  qdeploy merge-calibration shard_*.json -o states.json\n  qdeploy quantize model.onnx -o model.int8.onnx --calibration states.json\nThe backend, quantization and calibration options must be the ones quantize will use.',
  );
  cmd.action(async (model: string, flags: CalibrateFlags) => {
    const { loadConfig } = await import('../../config/load.js');
    const { calibrateModel } = await import('../pipeline/calibration-file.js');
    if (!flags.statesOut) throw new UsageError('missing the output path: give --states-out <file>');
    const config: ResolvedConfig | undefined = flags.config ? await loadConfig(flags.config) : undefined;
    const summary = await calibrateModel({
      ...pipelineSettings(model, flags, config),
      calibration: calibrationSettings(flags, config),
      statesOut: outputPath(flags.statesOut),
      shard: flags.shard,
      progress: flags.progress,
      log: (line) => io.err(`${line}\n`),
    });
    if (flags.json) printJson(io, summary);
    else {
      io.out(
        `calibrated shard ${summary.shard.index}/${summary.shard.count} (${summary.data}): ${summary.samples} samples, ${summary.quantizers} quantizers, ${summary.method}` +
          ` in ${summary.seconds.toFixed(1)} s → ${path.relative(process.cwd(), summary.statesOut) || summary.statesOut}\n`,
      );
    }
  });

  const merge = program
    .command('merge-calibration')
    .description('merge the calibration files of all shards into one (for quantize --calibration)')
    .argument('<files...>', 'calibration files written by qdeploy calibrate --shard')
    .option('-o, --output <file>', 'where the merged calibration file goes')
    .option('--plugin <spec>', 'load a plugin package or file first, for a plugin calibrator (repeatable)', collect);
  addCommonOptions(merge, { json: true });
  merge.action(async (files: string[], flags: { output?: string; plugin?: string[]; json?: boolean }) => {
    const { mergeCalibration } = await import('../pipeline/calibration-file.js');
    const { loadPlugins } = await import('../../plugins/load.js');
    if (!flags.output) throw new UsageError('missing the output path: give -o <file>');
    if (flags.plugin?.length) await loadPlugins(cliPluginSpecs(flags.plugin), { from: process.cwd() });
    const merged = await mergeCalibration(files, outputPath(flags.output), { from: process.cwd() });
    const samples = merged.shards.reduce((a, s) => a + s.samples, 0);
    const summary = { output: path.resolve(flags.output), shards: merged.shards.length, samples, quantizers: Object.keys(merged.states).length, method: merged.method };
    if (flags.json) printJson(io, summary);
    else io.out(`merged ${summary.shards} shards (${samples} samples, ${summary.quantizers} quantizers, ${summary.method}) → ${flags.output}\n`);
  });
}
