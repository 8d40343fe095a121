/**
 * One slice of a calibration data set, so several processes or machines can each
 * calibrate a part and their states be merged (`qdeploy calibrate --shard i/n`).
 */
import { DataError } from './errors.js';
import { sliceBatch, type CalibrationBatch, type CalibrationDataSource } from './source.js';
import type * as ort from 'onnxruntime-node';

/** Shard `index` (0-based) of `count`. */
export interface Shard {
  index: number;
  count: number;
}

/** Parses "i/n" (0 <= i < n; a Kubernetes Indexed Job's JOB_COMPLETION_INDEX is such an i). */
export function parseShard(spec: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(spec);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(count) || count < 1 || index >= count) {
    throw new DataError('invalid-option', `shard "${spec}" is not i/n with 0 <= i < n (e.g. 0/4 for the first of four)`);
  }
  return { index, count };
}

/** The samples [start, end) of shard `s` when the data set has `total`: contiguous, sizes differing by at most one. */
export function shardRange(total: number, s: Shard): { start: number; end: number } {
  return { start: Math.floor((s.index * total) / s.count), end: Math.floor(((s.index + 1) * total) / s.count) };
}

/**
 * The slice of `source` that shard `s` calibrates. A source that knows its size and can
 * seek (`slice`: .npy files, image folders) reads only its slice; one that cannot (a data
 * module) is read whole and its batches dealt round-robin, batch k to shard k mod n.
 */
export function shardSource(source: CalibrationDataSource, s: Shard): CalibrationDataSource {
  if (s.count === 1) return source;
  const total = source.totalSamples;
  if (total !== undefined) {
    const { start, end } = shardRange(total, s);
    if (end === start) throw new DataError('empty', `shard ${s.index}/${s.count} of ${source.description} is empty: ${total} samples for ${s.count} shards`);
    if (source.slice) return source.slice(start, end);
    return { description: `${source.description} [samples ${start}–${end - 1}]`, totalSamples: end - start, [Symbol.asyncIterator]: () => skipTo(source, start, end) };
  }
  return {
    description: `${source.description} [batches ${s.index} mod ${s.count}]`,
    async *[Symbol.asyncIterator]() {
      let k = 0;
      let index = 0;
      for await (const batch of source) if (k++ % s.count === s.index) yield { ...batch, index: index++ };
    },
  };
}

/** Samples [start, end) of a source without `slice`: earlier batches read and dropped, edge batches cut (views). */
async function* skipTo(source: CalibrationDataSource, start: number, end: number): AsyncGenerator<CalibrationBatch> {
  let at = 0;
  let index = 0;
  for await (const batch of source) {
    const from = at;
    at += batch.samples;
    if (at <= start) continue;
    const lo = Math.max(0, start - from);
    const hi = Math.min(batch.samples, end - from);
    const inputs = lo === 0 && hi === batch.samples ? batch.inputs : mapValues(batch.inputs, (t) => sliceRows(t, lo, hi));
    yield { inputs, index: index++, samples: hi - lo };
    if (at >= end) return;
  }
}

function mapValues<T, U>(o: Record<string, T>, f: (v: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]));
}

/** Rows [lo, hi) of a tensor along axis 0 (a view). */
function sliceRows(t: ort.Tensor, lo: number, hi: number): ort.Tensor {
  if (lo === 0) return sliceBatch(t, hi);
  const per = t.dims.slice(1).reduce((a, b) => a * b, 1);
  const data = t.data as unknown as { subarray(a: number, b: number): Float32Array };
  const Ctor = t.constructor as new (type: ort.Tensor.Type, data: Float32Array, dims: number[]) => ort.Tensor;
  return new Ctor(t.type, data.subarray(lo * per, hi * per), [hi - lo, ...t.dims.slice(1)]);
}
