import * as ort from 'onnxruntime-node';
import { DataError } from '../calibrate/data/errors.js';
import { quoteName } from '../util/printable.js';
import { npySource } from '../calibrate/data/npy-source.js';
import { modelInputsOf, validateFeed } from '../calibrate/data/validate.js';
import { createProgress } from '../util/progress.js';
import { openLabels } from './labels.js';
import { argmaxRows, sqnrDb } from './stats.js';
import { NO_SPINNING } from '../util/no-spinning.js';

export interface EvaluateOptions {
  /** .npy file (or folder of .npy files) of inputs, N×C×H×W float32, fed to the model's only input. */
  data: string;
  /** .npy file of class indices, shape (N,) or (N, 1), int64 / int32 / uint8 / int8. */
  labels: string;
  /** A reference model (usually the FP32 original) run on the same batches. */
  ref?: string;
  /** Samples per batch (default 32). */
  batchSize?: number;
  /** Evaluate only the first `limit` samples. */
  limit?: number;
  /** Progress display on stderr: true = bar on a terminal / lines in logs; default false (a library call prints nothing unless asked). */
  progress?: boolean;
  /** onnxruntime session options for both sessions (default: graphOptimizationLevel "all"). */
  sessionOptions?: ort.InferenceSession.SessionOptions;
  /** Output holding the logits (default: the model's first output). */
  output?: string;
}

export interface EvalReport {
  model: string;
  /** Samples evaluated. */
  samples: number;
  /** Fraction of samples whose argmax equals the label. */
  top1: number;
  /** Samples classified correctly. */
  correct: number;
  /** Wall time of the evaluation loop (both models, when there is a reference). */
  seconds: number;
  /** Labels that are no class index of the model's output (≥ its number of classes): those samples can never count as correct. */
  labelsOutOfRange?: { count: number; classes: number; max: number };
  ref?: {
    model: string;
    /** Top-1 of the reference model on the same samples. */
    top1: number;
    /** Fraction of samples where both models' argmax agree. */
    agreement: number;
    /** 10·log10(Σref² / Σ(ref−out)²) over all logits; Infinity when identical. */
    sqnrDb: number;
  };
}

type ModelSource = string | Uint8Array;

const describe = (m: ModelSource) => (typeof m === 'string' ? m : `<${m.byteLength}-byte model>`);

async function openSession(m: ModelSource, options: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  return typeof m === 'string' ? ort.InferenceSession.create(m, options) : ort.InferenceSession.create(m, options);
}

function logitsOf(out: ort.InferenceSession.ReturnType, name: string, samples: number, model: string): { data: Float32Array; classes: number } {
  const t = out[name];
  if (!t) throw new Error(`${model}: no output ${quoteName(name)}`);
  if (t.type !== 'float32') throw new Error(`${model}: output ${quoteName(name)} is ${t.type}, expected float32 logits`);
  if (t.dims[0] !== samples) throw new Error(`${model}: output ${quoteName(name)} has shape [${t.dims.join(', ')}], expected the batch (${samples}) on axis 0`);
  const data = t.data as Float32Array;
  return { data, classes: data.length / samples };
}

/**
 * Top-1 accuracy of a classifier on a labelled .npy data set, streamed batch by batch
 * (memory: one batch), and optionally how closely it follows a reference model
 * (agreement of argmax, SQNR of the logits).
 */
export async function evaluateModel(model: ModelSource, opts: EvaluateOptions): Promise<EvalReport> {
  // logSeverityLevel 3: onnxruntime's own (coloured) warning lines stay out of the report.
  const sessionOptions: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', logSeverityLevel: 3, ...opts.sessionOptions };
  const labels = openLabels(opts.labels);
  const sessions: ort.InferenceSession[] = [];
  try {
    // With a reference, the two sessions run by turns: neither spins (util/no-spinning.ts).
    const options = opts.ref !== undefined ? { extra: NO_SPINNING, ...sessionOptions } : sessionOptions;
    const session = await openSession(model, options);
    sessions.push(session);
    const refSession = opts.ref !== undefined ? await openSession(opts.ref, options) : undefined;
    if (refSession) sessions.push(refSession);
    const inputs = modelInputsOf(session);
    const outName = opts.output ?? session.outputNames[0]!;
    const refOut = refSession ? (opts.output ?? refSession.outputNames[0]!) : '';
    const source = await npySource(opts.data, { batchSize: opts.batchSize, limit: opts.limit, modelInputs: inputs });
    const total = source.totalSamples ?? 0;
    if (labels.rows < total) {
      throw new DataError('shape-mismatch', `${opts.labels} holds ${labels.rows} labels but ${opts.data} has ${total} samples${opts.limit ? ` (limit ${opts.limit})` : ''}`, { path: opts.labels });
    }
    // Only when asked: a library call prints nothing by itself.
    const mode = opts.progress === true ? undefined : 'off';
    const progress = createProgress({ label: 'evaluating', unit: 'sample', total, mode });

    const started = performance.now();
    let samples = 0, correct = 0, refCorrect = 0, agree = 0;
    let completed = false;
    let signal = 0, noise = 0;
    let outOfRange = 0, maxLabel = 0, classes = 0;
    try {
      for await (const batch of source) {
        const feeds = validateFeed(batch.inputs, inputs, { batchIndex: batch.index, source: opts.data });
        const n = batch.samples;
        const y = labels.read(samples, n);
        const out = logitsOf(await session.run(feeds, [outName]), outName, n, describe(model));
        const pred = argmaxRows(out.data, n, out.classes);
        classes = out.classes;
        for (let i = 0; i < n; i++) {
          if (pred[i] === y[i]) correct++;
          if (y[i]! >= out.classes) {
            outOfRange++;
            if (y[i]! > maxLabel) maxLabel = y[i]!;
          }
        }
        if (refSession) {
          const ref = logitsOf(await refSession.run(feeds, [refOut]), refOut, n, describe(opts.ref!));
          if (ref.data.length !== out.data.length) {
            throw new Error(`${describe(opts.ref!)} gives ${ref.classes} outputs per sample but ${describe(model)} gives ${out.classes}`);
          }
          const refPred = argmaxRows(ref.data, n, ref.classes);
          for (let i = 0; i < n; i++) {
            if (refPred[i] === y[i]) refCorrect++;
            if (refPred[i] === pred[i]) agree++;
          }
          for (let i = 0; i < ref.data.length; i++) {
            const r = ref.data[i]!;
            const d = r - out.data[i]!;
            signal += r * r;
            noise += d * d;
          }
        }
        samples += n;
        progress.tick(n);
      }
      completed = true;
    } finally {
      progress.stop(completed);
    }
    if (samples === 0) throw new DataError('empty', `no samples in ${opts.data}`, { path: opts.data });
    const report: EvalReport = {
      model: describe(model),
      samples,
      top1: correct / samples,
      correct,
      seconds: (performance.now() - started) / 1000,
    };
    if (outOfRange > 0) report.labelsOutOfRange = { count: outOfRange, classes, max: maxLabel };
    if (refSession) report.ref = { model: describe(opts.ref!), top1: refCorrect / samples, agreement: agree / samples, sqnrDb: sqnrDb(signal, noise) };
    return report;
  } finally {
    labels.close();
    for (const s of sessions) await s.release();
  }
}
