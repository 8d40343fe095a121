import * as ort from 'onnxruntime-node';
import { npySource } from '../calibrate/data/npy-source.js';
import { validateFeed, type ModelInputInfo } from '../calibrate/data/validate.js';
import { DataError } from '../calibrate/data/errors.js';
import { openLabels } from '../evaluate/labels.js';

/** A small labelled data set held in memory: analysis and tuning run it many times. */
export interface HeldBatches {
  description: string;
  batches: Record<string, ort.Tensor>[];
  sizes: number[];
  samples: number;
  /** One label per sample, when labels were given. */
  labels?: Int32Array;
}

export interface ReadBatchesOptions {
  batchSize?: number;
  limit?: number;
  /** Skip this many samples first (to split one file into tuning and held-out parts). */
  offset?: number;
  labels?: string;
  modelInputs: readonly ModelInputInfo[];
}

/** Reads a .npy data set (and its labels) into memory, batch by batch, checked against the model inputs. */
export async function readBatches(file: string, o: ReadBatchesOptions): Promise<HeldBatches> {
  const offset = o.offset ?? 0;
  const source = await npySource(file, { batchSize: o.batchSize ?? 64, limit: o.limit !== undefined ? offset + o.limit : undefined, modelInputs: o.modelInputs });
  const batches: Record<string, ort.Tensor>[] = [];
  const sizes: number[] = [];
  let seen = 0;
  for await (const b of source) {
    const start = seen;
    seen += b.samples;
    if (seen <= offset) continue;
    const feed = validateFeed(b.inputs, o.modelInputs, { batchIndex: b.index, source: file });
    const skip = Math.max(0, offset - start);
    batches.push(skip ? sliceFeed(feed, skip, b.samples) : feed);
    sizes.push(b.samples - skip);
  }
  const samples = sizes.reduce((a, b) => a + b, 0);
  if (samples === 0) throw new DataError('empty', `${file}: no samples${offset ? ` after the first ${offset}` : ''}`, { path: file });
  const out: HeldBatches = { description: file, batches, sizes, samples };
  if (o.labels) {
    const l = openLabels(o.labels);
    try {
      if (l.rows < offset + samples) throw new DataError('shape-mismatch', `${o.labels} holds ${l.rows} labels but ${file} has ${offset + samples} samples`, { path: o.labels });
      out.labels = l.read(offset, samples);
    } finally {
      l.close();
    }
  }
  return out;
}

function sliceFeed(feed: Record<string, ort.Tensor>, from: number, to: number): Record<string, ort.Tensor> {
  return Object.fromEntries(
    Object.entries(feed).map(([k, t]) => {
      const per = t.size / t.dims[0]!;
      return [k, new ort.Tensor(t.type as 'float32', (t.data as Float32Array).subarray(from * per, to * per), [to - from, ...t.dims.slice(1)])];
    }),
  );
}

/** The first `n` samples of held batches (no copies: the batches are shared). */
export function headOf(data: HeldBatches, n: number): HeldBatches {
  if (n >= data.samples) return data;
  const batches: Record<string, ort.Tensor>[] = [];
  const sizes: number[] = [];
  let taken = 0;
  for (let b = 0; b < data.batches.length && taken < n; b++) {
    const size = data.sizes[b]!;
    const keep = Math.min(size, n - taken);
    batches.push(keep === size ? data.batches[b]! : sliceFeed(data.batches[b]!, 0, keep));
    sizes.push(keep);
    taken += keep;
  }
  const out: HeldBatches = { description: `${data.description} (first ${taken})`, batches, sizes, samples: taken };
  if (data.labels) out.labels = data.labels.subarray(0, taken);
  return out;
}
