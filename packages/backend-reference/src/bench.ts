import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  calibrate,
  evaluateModel,
  insertQdq,
  loadModel,
  npySource,
  saveModel,
  toForwardLoop,
  transform,
  type CalibrationResult,
  type CalibratorFactory,
  type Model,
  type PatternMatch,
  type QuantConfigInput,
  type QuantizedModel,
} from '@qdeploy/core';
import { REFERENCE_PATTERNS } from './patterns/index.js';
import { REFERENCE_QUANT_CONFIG } from './backend.js';
import { buildReference } from './build.js';
import { formatCounts } from './fusions.js';

export interface QuantizeForReferenceOptions {
  /** Calibration data: a .npy file or folder (N×C×H×W float32). */
  calib: string;
  /** A registered calibration method or a factory (default "minmax"). */
  calibrator?: string | CalibratorFactory;
  batchSize?: number;
  /** Calibration samples to use (default: all). */
  limit?: number;
  /** Overrides of the backend's quantization config (e.g. symmetric activations, to compare). */
  quantConfig?: QuantConfigInput;
}

export interface ReferenceQuantized {
  /** The QDQ model to save. */
  qdq: Model;
  quantized: QuantizedModel;
  matches: PatternMatch[];
  calibration: CalibrationResult;
}

/** The whole pipeline with the reference backend's patterns and quantization config. */
export async function quantizeForReference(model: string | Model, options: QuantizeForReferenceOptions): Promise<ReferenceQuantized> {
  const fp32 = typeof model === 'string' ? loadModel(model) : model;
  const { model: transformed, matches } = transform(fp32, { patterns: REFERENCE_PATTERNS });
  const o = options.quantConfig ?? {};
  const config: QuantConfigInput = {
    activation: { ...REFERENCE_QUANT_CONFIG.activation, ...o.activation },
    weight: { ...REFERENCE_QUANT_CONFIG.weight, ...o.weight },
    skipWeightQuantFor: o.skipWeightQuantFor ?? REFERENCE_QUANT_CONFIG.skipWeightQuantFor,
  };
  const quantized = insertQdq(transformed, matches, { config });
  const inputs = transformed.graph.inputs.filter((v) => !v.isInitializer);
  if (inputs.length !== 1) throw new Error(`quantizeForReference: the model has ${inputs.length} inputs; calibrate multi-input models with core's calibrate() and a data module`);
  const source = await npySource(options.calib, { inputName: inputs[0]!.name, batchSize: options.batchSize ?? 64, limit: options.limit });
  const calibration = await calibrate(quantized, toForwardLoop(source), { calibrator: options.calibrator ?? 'minmax', progress: false });
  return { qdq: quantized.toExportModel(), quantized, matches, calibration };
}

export interface BenchReferenceOptions {
  /** FP32 models (default: fixtures/fmnist_resnet.onnx and fixtures/fmnist_mobilenet.onnx under `root`). */
  models?: string[];
  /** Repository root for the default model paths (default: the current directory). */
  root?: string;
  /** Folder with calib_512.npy, test_2000_x.npy, test_2000_y.npy (default: $QDEPLOY_FIXTURES, else <root>/../shared/fixtures). */
  data?: string;
  /** Explicit data files, instead of those in `data`. */
  calib?: string;
  testData?: string;
  testLabels?: string;
  calibrator?: string | CalibratorFactory;
  /** Overrides of the backend's quantization config (e.g. `{ activation: { symmetric: true } }` to see why it is asymmetric). */
  quantConfig?: QuantConfigInput;
  /** Batch sizes timed (default [1, 32]). */
  batchSizes?: number[];
  /** Timed runs per model and batch size; FP32 and INT8 runs alternate so machine load hits both alike (default 200 at batch 1, scaled down for bigger batches). */
  iterations?: number;
  /** Intra-op threads (default: onnxruntime's). */
  threads?: number;
  /** Skip the accuracy evaluation (timing only). */
  skipAccuracy?: boolean;
  /** Keep the INT8 models here (default: a temporary folder, removed). */
  outDir?: string;
}

export interface BenchReferenceRow {
  model: string;
  batch: number;
  /** Median latency of one batch, ms. */
  fp32Ms: number;
  int8Ms: number;
  /** fp32Ms / int8Ms. */
  speedup: number;
  fp32Top1?: number;
  int8Top1?: number;
  /** (int8 − fp32) top-1 in percentage points. */
  deltaPoints?: number;
  agreement?: number;
  sqnrDb?: number;
  calibrator: string;
  /** Integer kernels in onnxruntime's optimised INT8 graph. */
  kernels: string;
  /** Compute ops left in float there. */
  floatOps: string;
}

function randomInput(n: number): Float32Array {
  const out = new Float32Array(n);
  let s = 7;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median latency of two models, timed in alternation on the same input. */
async function timePair(a: string, b: string, dims: number[], iterations: number, threads?: number): Promise<[number, number]> {
  const opts: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', executionMode: 'sequential', ...(threads ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}) };
  const sa = await ort.InferenceSession.create(a, opts);
  const sb = await ort.InferenceSession.create(b, opts);
  try {
    const name = sa.inputNames[0]!;
    const feeds = { [name]: new ort.Tensor('float32', randomInput(dims.reduce((x, y) => x * y, 1)), dims) };
    const warm = Math.max(5, iterations >> 3);
    for (let i = 0; i < warm; i++) {
      await sa.run(feeds);
      await sb.run(feeds);
    }
    const ta: number[] = [];
    const tb: number[] = [];
    for (let i = 0; i < iterations; i++) {
      let t = performance.now();
      await sa.run(feeds);
      ta.push(performance.now() - t);
      t = performance.now();
      await sb.run(feeds);
      tb.push(performance.now() - t);
    }
    return [median(ta), median(tb)];
  } finally {
    await sa.release();
    await sb.release();
  }
}

/**
 * FP32 vs INT8 on onnxruntime's CPU provider for the Fashion-MNIST models: quantizes each
 * with the reference backend, checks which integer kernels onnxruntime fused, evaluates
 * top-1 on the 2000 test images and times both at each batch size. One row per model
 * and batch size.
 */
export async function benchReference(options: BenchReferenceOptions = {}): Promise<BenchReferenceRow[]> {
  const root = options.root ?? process.cwd();
  const models = options.models ?? ['fmnist_resnet.onnx', 'fmnist_mobilenet.onnx'].map((f) => path.join(root, 'fixtures', f));
  const data = options.data ?? process.env.QDEPLOY_FIXTURES ?? path.join(root, '..', 'shared', 'fixtures');
  const file = (f: string, given?: string) => {
    const p = given ?? path.join(data, f);
    if (!fs.existsSync(p)) throw new Error(`benchReference: ${p} not found (set QDEPLOY_FIXTURES or the "data" option)`);
    return p;
  };
  const calibrator = options.calibrator ?? 'minmax';
  const calName = typeof calibrator === 'string' ? calibrator : 'custom';
  const dir = options.outDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'qdeploy-ref-bench-'));
  fs.mkdirSync(dir, { recursive: true });
  const rows: BenchReferenceRow[] = [];
  try {
    for (const fp32 of models) {
      const int8 = path.join(dir, path.basename(fp32).replace(/\.onnx$/, '') + '.int8.onnx');
      const q = await quantizeForReference(fp32, { calib: file('calib_512.npy', options.calib), calibrator, quantConfig: options.quantConfig });
      await saveModel(q.qdq, int8);
      const built = await buildReference(int8, options.threads ? { threads: options.threads } : {});
      const acc = options.skipAccuracy
        ? undefined
        : await evaluateModel(int8, { data: file('test_2000_x.npy', options.testData), labels: file('test_2000_y.npy', options.testLabels), ref: fp32, batchSize: 100, progress: false });
      const input = loadModel(fp32).graph.inputs.find((v) => !v.isInitializer)!;
      for (const batch of options.batchSizes ?? [1, 32]) {
        const dims = (input.shape ?? []).map((d) => (typeof d === 'number' && d > 0 ? d : batch));
        const iterations = options.iterations ?? Math.max(20, Math.round(200 / Math.sqrt(batch)));
        const [fp32Ms, int8Ms] = await timePair(fp32, int8, dims, iterations, options.threads);
        rows.push({
          model: path.basename(fp32),
          batch,
          fp32Ms,
          int8Ms,
          speedup: fp32Ms / int8Ms,
          ...(acc?.ref ? { fp32Top1: acc.ref.top1, int8Top1: acc.top1, deltaPoints: 100 * (acc.top1 - acc.ref.top1), agreement: acc.ref.agreement, sqnrDb: acc.ref.sqnrDb } : {}),
          calibrator: calName,
          kernels: formatCounts(built.fusions.integer),
          floatOps: formatCounts(built.fusions.float),
        });
      }
    }
  } finally {
    if (!options.outDir) fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
