import * as ort from 'onnxruntime-node';
import { percentile } from './stats.js';
import { randomFloats } from '../testing/index.js';

export interface BenchmarkOptions {
  /** Batch size substituted for dynamic dimensions (default 1). */
  batchSize?: number;
  /** Timed runs (default 100). */
  iterations?: number;
  /** Untimed runs first (default 10). */
  warmup?: number;
  /** onnxruntime intra-op threads (default: onnxruntime's choice, one per physical core). */
  threads?: number;
  /** Shape of the (first) input, overriding the model's; dynamic dims need not be given then. */
  inputShape?: number[];
  /** Extra onnxruntime session options (default graphOptimizationLevel "all"). */
  sessionOptions?: ort.InferenceSession.SessionOptions;
}

export interface LatencyStats {
  min: number;
  mean: number;
  median: number;
  p90: number;
  p99: number;
  max: number;
}

export interface BenchReport {
  model: string;
  batchSize: number;
  iterations: number;
  warmup: number;
  /** Intra-op threads asked for (undefined: onnxruntime's default). */
  threads?: number;
  /** Input name → shape used. */
  inputShapes: Record<string, number[]>;
  /** Per-run latency in milliseconds (session.run of one batch). */
  latencyMs: LatencyStats;
  /** Samples per second: batchSize / mean latency. */
  throughput: number;
}

type ModelSource = string | Uint8Array;


function tensorFor(type: ort.Tensor.Type, dims: number[], seed: number): ort.Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  switch (type) {
    case 'float32':
      return new ort.Tensor('float32', randomFloats(n, seed), dims);
    case 'int64':
      return new ort.Tensor('int64', new BigInt64Array(n), dims);
    case 'int32':
      return new ort.Tensor('int32', new Int32Array(n), dims);
    case 'uint8':
      return new ort.Tensor('uint8', new Uint8Array(n), dims);
    case 'int8':
      return new ort.Tensor('int8', new Int8Array(n), dims);
    case 'bool':
      return new ort.Tensor('bool', new Uint8Array(n), dims);
    default:
      throw new Error(`benchmarkModel: cannot make random input of type ${type}`);
  }
}

/** The concrete shape of an input: fixed dims kept, dynamic ones (symbolic, -1, unknown) → batchSize. */
export function concreteShape(dims: readonly (number | string | null)[], batchSize: number): number[] {
  return dims.map((d) => (typeof d === 'number' && d > 0 ? d : batchSize));
}

/**
 * Latency and throughput of a model on onnxruntime's CPU provider, on random input of
 * the model's input shape (dynamic dimensions → batchSize). One session.run per sample.
 */
export async function benchmarkModel(model: ModelSource, opts: BenchmarkOptions = {}): Promise<BenchReport> {
  const batchSize = opts.batchSize ?? 1;
  const iterations = opts.iterations ?? 100;
  const warmup = opts.warmup ?? 10;
  for (const [k, v, min] of [['batchSize', batchSize, 1], ['iterations', iterations, 1], ['warmup', warmup, 0]] as const) {
    if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`benchmarkModel: ${k} must be an integer >= ${min}, got ${String(v)}`);
  }
  if (opts.threads !== undefined && (!Number.isSafeInteger(opts.threads) || opts.threads < 1)) {
    throw new RangeError(`benchmarkModel: threads must be a positive integer, got ${String(opts.threads)}`);
  }
  const options: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    // onnxruntime's own (coloured) warning lines would land in the middle of the report.
    logSeverityLevel: 3,
    ...(opts.threads !== undefined ? { intraOpNumThreads: opts.threads, interOpNumThreads: 1 } : {}),
    ...opts.sessionOptions,
  };
  const session = typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
  try {
    const feeds: Record<string, ort.Tensor> = {};
    const inputShapes: Record<string, number[]> = {};
    const metas = session.inputMetadata.filter((m) => m.isTensor);
    metas.forEach((m, i) => {
      const meta = m as ort.InferenceSession.TensorValueMetadata;
      let dims = concreteShape(meta.shape, batchSize);
      if (i === 0 && opts.inputShape) {
        if (!opts.inputShape.every((d) => Number.isSafeInteger(d) && d > 0)) throw new RangeError(`benchmarkModel: inputShape must hold positive integers, got [${opts.inputShape.join(', ')}]`);
        if (meta.shape.length && opts.inputShape.length !== meta.shape.length) {
          throw new RangeError(`benchmarkModel: inputShape [${opts.inputShape.join(', ')}] has rank ${opts.inputShape.length} but input '${m.name}' has rank ${meta.shape.length}`);
        }
        dims = [...opts.inputShape];
      }
      inputShapes[m.name] = dims;
      feeds[m.name] = tensorFor(meta.type, dims, 12345 + i);
    });
    for (let i = 0; i < warmup; i++) await session.run(feeds);
    const times: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now();
      await session.run(feeds);
      times.push(performance.now() - t0);
    }
    const sorted = [...times].sort((a, b) => a - b);
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    const effBatch = opts.inputShape?.[0] ?? batchSize;
    return {
      model: typeof model === 'string' ? model : `<${model.byteLength}-byte model>`,
      batchSize: effBatch,
      iterations,
      warmup,
      ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
      inputShapes,
      latencyMs: { min: sorted[0]!, mean, median: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted[sorted.length - 1]! },
      throughput: (effBatch * 1000) / mean,
    };
  } finally {
    await session.release();
  }
}
