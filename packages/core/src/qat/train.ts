/**
 * The QAT training loop: epochs of shuffled fixed-size batches, a progress bar with loss,
 * accuracy and samples/s, a checkpoint after every epoch (atomic), resume from the last
 * one, and a clean stop on an abort signal (Ctrl-C) that keeps the last complete checkpoint.
 */
import { createProgress, type ProgressMode } from '../util/progress.js';
import { checkpointPath, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { Qat } from './prepare-qat.js';
import { batchesPerEpoch, trainingBatches, type TrainingDataset } from './training-data.js';

export interface TrainQatOptions {
  data: TrainingDataset;
  epochs: number;
  /** The model input the samples feed (default the training graph's only input). */
  inputName?: string;
  /** Shuffle seed (default 0). */
  seed?: number;
  /** Use only the first `limit` samples. */
  limit?: number;
  /** Folder for the per-epoch checkpoint (none when absent). */
  checkpointDir?: string;
  /** Continue from the checkpoint in checkpointDir. */
  resume?: boolean;
  /** Stops after the current step; the last complete checkpoint stays. */
  signal?: AbortSignal;
  progress?: boolean | ProgressMode;
  onEpoch?: (summary: EpochSummary) => void;
}

export interface EpochSummary {
  /** 1-based. */
  epoch: number;
  /** Mean training loss over the epoch. */
  loss: number;
  /** Training top-1 (with fake quant) over the epoch, when labels are known. */
  accuracy: number | null;
  samplesPerSecond: number;
  seconds: number;
  checkpoint: string | null;
}

export interface TrainQatResult {
  epochs: EpochSummary[];
  /** Epochs that a resumed checkpoint had already completed. */
  resumedFrom: number | null;
  /** Stopped by the signal before the last epoch ended. */
  interrupted: boolean;
}

export async function trainQat(qat: Qat, o: TrainQatOptions): Promise<TrainQatResult> {
  if (!Number.isSafeInteger(o.epochs) || o.epochs < 1) throw new Error(`epochs must be a positive integer, got ${String(o.epochs)}`);
  const graph = await qat.trainingGraph();
  const inputName = o.inputName ?? graph.dataInputs[0]!.name;
  if (graph.labels && !o.data.hasLabels) throw new Error(`${o.data.description}: the ${qat.loss.type} loss needs labels (a labels .npy, or an image folder with one sub-folder per class); distillation needs none`);
  const size = Math.min(o.data.size, o.limit ?? Infinity);
  const perEpoch = batchesPerEpoch(size, qat.batchSize);
  qat.setTotalSteps(o.epochs * perEpoch);

  let start = 0;
  let resumedFrom: number | null = null;
  const history: EpochSummary[] = [];
  if (o.resume) {
    if (!o.checkpointDir) throw new Error('resume needs a checkpoint folder');
    const c = await loadCheckpoint(o.checkpointDir);
    if (!c) throw new Error(`${checkpointPath(o.checkpointDir)}: no checkpoint to resume from`);
    qat.restore(c, checkpointPath(o.checkpointDir));
    start = resumedFrom = c.epoch;
    history.push(...(c.history as EpochSummary[]));
  }

  const show = o.progress === undefined || o.progress === true ? undefined : o.progress === false ? 'off' : o.progress;
  for (let epoch = start; epoch < o.epochs; epoch++) {
    const progress = createProgress({ label: `QAT epoch ${epoch + 1}/${o.epochs}`, total: perEpoch * qat.batchSize, unit: 'sample', mode: show });
    const t0 = performance.now();
    let lossSum = 0, correct = 0, labelled = 0, steps = 0;
    try {
      for await (const batch of trainingBatches(o.data, { batchSize: qat.batchSize, inputName, seed: o.seed, epoch, limit: o.limit })) {
        if (o.signal?.aborted) return { epochs: history, resumedFrom, interrupted: true };
        const loss = await qat.step(batch.inputs, batch.labels ?? undefined);
        lossSum += loss;
        steps++;
        const r = qat.lastStep!;
        if (r.correct !== null) {
          correct += r.correct;
          labelled += r.samples;
        }
        const acc = labelled ? `, acc ${((100 * correct) / labelled).toFixed(1)}%` : '';
        progress.tick(qat.batchSize, `loss ${(lossSum / steps).toFixed(4)}${acc}`);
      }
    } finally {
      progress.stop();
    }
    const seconds = (performance.now() - t0) / 1000;
    const summary: EpochSummary = {
      epoch: epoch + 1,
      loss: lossSum / steps,
      accuracy: labelled ? correct / labelled : null,
      samplesPerSecond: (steps * qat.batchSize) / seconds,
      seconds,
      checkpoint: null,
    };
    if (o.checkpointDir) summary.checkpoint = await saveCheckpoint(o.checkpointDir, qat.toCheckpoint(epoch + 1, [...history, summary]));
    history.push(summary);
    o.onEpoch?.(summary);
    if (o.signal?.aborted && epoch + 1 < o.epochs) return { epochs: history, resumedFrom, interrupted: true };
  }
  return { epochs: history, resumedFrom, interrupted: false };
}
