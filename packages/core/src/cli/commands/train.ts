import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { QatSettings } from '../../config/types.js';
import { UsageError } from '../errors.js';
import { addCommonOptions, positiveInt, printJson, type CliIO } from '../options.js';
import { addQuantizeOptions, OLDER_CALIBRATION_SPELLINGS } from '../quantize-flags.js';
import { quantizeOptionsFromFlags, type QuantizeFlags } from './quantize.js';

interface TrainFlags extends QuantizeFlags {
  data?: string;
  labels?: string;
  epochs?: number;
  lr?: number;
  optimizer?: 'adamw' | 'sgd';
  qatBatchSize?: number;
  loss?: 'cross-entropy' | 'distillation' | 'output-distillation';
  temperature?: number;
  learnScales?: boolean;
  scaleLr?: number;
  learnWeightScales?: boolean;
  weightScaleInit?: 'max' | 'mse';
  weightScaleLr?: number;
  emaDecay?: number;
  workers?: number;
  checkpointDir?: string;
  resume?: boolean;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError('expected a positive number.');
  return n;
}

function unitInterval(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n < 1)) throw new InvalidArgumentError('expected a number in [0, 1).');
  return n;
}

function oneOf<T extends string>(values: readonly T[]) {
  return (value: string): T => {
    if (!(values as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${values.join(', ')}.`);
    return value as T;
  };
}

export function registerTrain(program: Command, io: CliIO): void {
  const cmd = program
    .command('train')
    .description('quantization-aware training: quantize and calibrate, fine-tune with fake quant on onnxruntime, save the QDQ model')
    .argument('<model>', 'FP32 ONNX model')
    .option('-o, --output <file>', 'where the trained QDQ ONNX model goes (never the input model)')
    .option('--data <path>', 'training data: a .npy file (labels in --labels) or an image folder with one sub-folder per class')
    .option('--labels <file>', 'class indices (.npy) for .npy training data; not needed for --loss distillation')
    .option('--epochs <n>', 'epochs (default: 1)', positiveInt)
    .option('--lr <x>', 'peak learning rate (default: 2e-4; 1e-5 when every quantizer has 8 bits)', positiveNumber)
    .option('--optimizer <name>', 'adamw or sgd (default: adamw)', oneOf(['adamw', 'sgd'] as const))
    .option('--qat-batch-size <n>', 'training batch size, fixed; the last partial batch of an epoch is dropped (default: 16)', positiveInt)
    .option('--loss <name>', 'cross-entropy (labels), distillation (the FP32 model\'s logits) or output-distillation (every output, relative squared error: detectors); default: cross-entropy with labels, else distillation on [batch, classes] logits, else output-distillation', oneOf(['cross-entropy', 'distillation', 'output-distillation'] as const))
    .option('--temperature <t>', 'distillation temperature (default: 1)', positiveNumber)
    .option('--learn-scales', 'learn activation scales (LSQ), starting from the calibrated ones (the default)')
    .option('--no-learn-scales', 'keep the calibrated activation scales fixed')
    .option('--scale-lr <x>', 'learning-rate multiplier for learned scales (default: 10)', positiveNumber)
    .option('--learn-weight-scales', 'learn per-channel weight scales (LSQ on weights) instead of max |w| / qmax each step')
    .option('--weight-scale-init <how>', 'where learned weight scales start: max or mse (default: max)', oneOf(['max', 'mse'] as const))
    .option('--weight-scale-lr <x>', 'learning-rate multiplier for learned weight scales (default: 1)', positiveNumber)
    .option('--ema-decay <d>', 'export a moving average of the trained weights and scales, this decay per step (default: 0, off)', unitInterval)
    .option('--workers <n>', 'data-parallel step threads, each on its share of the batch (default: as many as the cores allow, at least 4 samples each, at most 8; 1: one session)', positiveInt)
    .option('--checkpoint-dir <dir>', 'folder of the per-epoch checkpoint (default: <output>.qat)')
    .option('--resume', 'continue from the checkpoint in the checkpoint folder');
  // Backend, calibration (the starting scales), bit widths and placement: quantize's options, defined once.
  addQuantizeOptions(cmd);
  addCommonOptions(cmd, { progress: true, json: true });
  cmd.addHelpText(
    'after',
    `\nCtrl-C stops training; the checkpoint of the last complete epoch stays, and --resume continues from it. A config file's qat section (-c) gives the same settings; flags win.\n\nExamples:\n  qdeploy train model.onnx -o model.qat.onnx --calibration-data calib.npy --data train_x.npy --labels train_y.npy --epochs 2\n  qdeploy train model.onnx -o model.qat.onnx --calibration-data calib.npy --data unlabelled.npy --loss distillation --temperature 2\n  qdeploy train model.onnx -o model.w4a4.onnx --calibration-data calib.npy --data train_x.npy --labels train_y.npy --activation-bits 4 --weight-bits 4\n\n${OLDER_CALIBRATION_SPELLINGS}`,
  );
  cmd.action(async (model: string, flags: TrainFlags) => {
    const { formatQuantizeSummary, quantizeModel } = await import('../pipeline/index.js');
    const options = await quantizeOptionsFromFlags(model, flags, io);
    const base = options.config?.qat;
    const data = flags.data !== undefined ? path.resolve(flags.data) : base?.data;
    if (!data) throw new UsageError('no training data: give --data <path> (or a qat section in the config file)');
    const qat: QatSettings = { ...base, data };
    if (flags.labels !== undefined) qat.labels = path.resolve(flags.labels);
    if (flags.epochs !== undefined) qat.epochs = flags.epochs;
    if (flags.lr !== undefined) qat.lr = flags.lr;
    if (flags.optimizer !== undefined) qat.optimizer = flags.optimizer;
    if (flags.qatBatchSize !== undefined) qat.batchSize = flags.qatBatchSize;
    if (flags.loss !== undefined) qat.loss = flags.loss;
    if (flags.temperature !== undefined) qat.temperature = flags.temperature;
    if (flags.learnScales !== undefined) qat.learnScales = flags.learnScales;
    if (flags.scaleLr !== undefined) qat.scaleLrFactor = flags.scaleLr;
    if (flags.learnWeightScales !== undefined) qat.learnWeightScales = flags.learnWeightScales;
    if (flags.weightScaleInit !== undefined) qat.weightScaleInit = flags.weightScaleInit;
    if (flags.weightScaleLr !== undefined) qat.weightScaleLrFactor = flags.weightScaleLr;
    if (flags.emaDecay !== undefined) qat.emaDecay = flags.emaDecay;
    if (flags.workers !== undefined) qat.workers = flags.workers;
    if (flags.checkpointDir !== undefined) qat.checkpointDir = path.resolve(flags.checkpointDir);
    if (flags.resume) qat.resume = true;
    if (flags.inputName !== undefined) qat.inputName = flags.inputName;
    const summary = await quantizeModel({ ...options, qat });
    if (flags.json) printJson(io, summary);
    else io.out(`${formatQuantizeSummary(summary)}\n`);
  });
}
