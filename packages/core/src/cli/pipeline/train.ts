/** The QAT step of quantize / run / train: train the calibrated model, then it is saved as usual. */
import fs from 'node:fs';
import type { ModelInputInfo } from '../../calibrate/data/validate.js';
import type { QatSettings } from '../../config/types.js';
import { displayPath } from '../../config/load.js';
import type { QuantizedModel } from '../../quantize/quantized-model.js';
import { checkpointPath } from '../../qat/checkpoint.js';
import { prepareQat } from '../../qat/prepare-qat.js';
import { batchesPerEpoch, openTrainingData, type TrainingDataset } from '../../qat/training-data.js';
import { DEFAULT_QAT_BATCH_SIZE } from '../../qat/options.js';
import { DataError } from '../../calibrate/data/errors.js';
import { trainQat, type EpochSummary } from '../../qat/train.js';
import { formatSeconds, plural } from '../format.js';

export interface QatReport {
  data: string;
  loss: string;
  optimizer: string;
  epochs: EpochSummary[];
  resumedFrom: number | null;
  checkpoint: string;
  /** Worker threads the steps ran on (1: one session). */
  workers: number;
  seconds: number;
}

/** The checkpoint folder for an output (when the settings name none). */
export function defaultCheckpointDir(output: string): string {
  return `${output}.qat`;
}

/**
 * Opens the training data (and its labels) against the model's input: done before
 * calibration, so a missing or mismatched file fails at the start, not after it.
 */
export async function openQatData(s: QatSettings, modelInputs: readonly ModelInputInfo[]): Promise<TrainingDataset> {
  const input = s.inputName ? modelInputs.find((i) => i.name === s.inputName) : modelInputs[0];
  const data = await openTrainingData(s.data, { labels: s.labels, normalize: s.normalize, modelDims: input?.dims, ...s.image });
  const batch = s.batchSize ?? DEFAULT_QAT_BATCH_SIZE;
  const size = Math.min(data.size, s.limit ?? Infinity);
  if (batchesPerEpoch(size, batch) === 0) {
    data.close();
    throw new DataError('empty', `${data.description}: ${size} samples do not fill one training batch of ${batch} (set a smaller QAT batch size: --qat-batch-size, or qat.batchSize)`, { path: data.description });
  }
  return data;
}

/**
 * Cross-entropy with labels; without, distillation from the FP32 model: on its logits
 * when the first output is [batch, classes], else on every output (a detector's heads).
 */
function defaultLoss(quantized: QuantizedModel, hasLabels: boolean): NonNullable<QatSettings['loss']> {
  if (hasLabels) return 'cross-entropy';
  return quantized.model.graph.outputs[0]?.shape?.length === 2 ? 'distillation' : 'output-distillation';
}

/** Trains the calibrated model on `data` (from openQatData; closed here). */
export async function runQat(
  quantized: QuantizedModel,
  s: QatSettings,
  data: TrainingDataset,
  ctx: { output: string; progress?: boolean; log: (line: string) => void },
): Promise<QatReport> {
  const t0 = performance.now();
  try {
    const loss = s.loss ?? defaultLoss(quantized, data.hasLabels);
    const qat = await prepareQat(quantized, {
      batchSize: s.batchSize,
      loss: loss === 'cross-entropy' ? { type: loss, labelSmoothing: s.labelSmoothing } : loss === 'distillation' ? { type: loss, temperature: s.temperature, alpha: s.alpha, labelSmoothing: s.labelSmoothing } : { type: loss },
      optimizer: { type: s.optimizer ?? 'adamw', lr: s.lr, momentum: s.momentum, weightDecay: s.weightDecay },
      schedule: { type: s.schedule ?? 'cosine', warmupSteps: s.warmupSteps },
      clipGradNorm: s.clipGradNorm,
      emaDecay: s.emaDecay,
      learnScales: s.learnScales,
      scaleLrFactor: s.scaleLrFactor,
      learnWeightScales: s.learnWeightScales,
      weightScaleInit: s.weightScaleInit,
      weightScaleLrFactor: s.weightScaleLrFactor,
      workers: s.workers,
    });
    const dir = s.checkpointDir ?? defaultCheckpointDir(ctx.output);
    try {
      const r = await trainQat(qat, {
        data,
        epochs: s.epochs ?? 1,
        inputName: s.inputName,
        seed: s.seed,
        limit: s.limit,
        checkpointDir: dir,
        resume: s.resume,
        progress: ctx.progress,
        onEpoch: (e) => ctx.log(`qdeploy: QAT epoch ${e.epoch}: loss ${e.loss.toFixed(4)}${e.accuracy !== null ? `, train top-1 ${(100 * e.accuracy).toFixed(2)}%` : ''}, ${Math.round(e.samplesPerSecond)} samples/s; checkpoint ${displayPath(e.checkpoint!)}`),
      });
      qat.sync();
      return {
        data: s.data,
        loss,
        optimizer: qat.optimizer.type,
        epochs: r.epochs,
        resumedFrom: r.resumedFrom,
        checkpoint: checkpointPath(dir),
        workers: qat.workers,
        seconds: (performance.now() - t0) / 1000,
      };
    } finally {
      await qat.release();
    }
  } finally {
    data.close();
  }
}

/** One line for the quantize summary. */
export function formatQatReport(r: QatReport): string {
  const last = r.epochs[r.epochs.length - 1];
  const resumed = r.resumedFrom !== null ? ` (resumed after epoch ${r.resumedFrom})` : '';
  const lastText = last ? `: last epoch loss ${last.loss.toFixed(4)}${last.accuracy !== null ? `, train top-1 ${(100 * last.accuracy).toFixed(2)}%` : ''}, ${Math.round(last.samplesPerSecond)} samples/s` : '';
  const ckpt = fs.existsSync(r.checkpoint) ? `; checkpoint ${displayPath(r.checkpoint)}` : '';
  return `${r.loss}, ${r.optimizer}, ${plural(r.epochs.length, 'epoch')}${resumed}${lastText}${ckpt} (${formatSeconds(r.seconds)}, ${plural(r.workers, 'worker')})`;
}
