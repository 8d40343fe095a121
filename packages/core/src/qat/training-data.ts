/**
 * Labelled training data: the calibration data kinds plus labels. A .npy x file with a
 * .npy y file of class indices, or an image folder with one sub-folder per class (the
 * sub-folder names, sorted, are the classes). Random access by sample, so each epoch can
 * be shuffled; memory stays at one batch.
 */
import fs from 'node:fs/promises';
import nodePath from 'node:path';
import * as ort from 'onnxruntime-node';
import { DataError } from '../calibrate/data/errors.js';
import { listDataFiles } from '../calibrate/data/files.js';
import { IMAGE_EXTENSIONS, loadImage, resolveImageTransform, type ImageTransform } from '../calibrate/data/image-source.js';
import { openNpy, type NpyFile } from '../calibrate/data/npy.js';
import { normalizePlanar, resolveNormalization, type Normalization } from '../calibrate/data/normalize.js';
import { openLabels, type LabelFile } from '../evaluate/labels.js';

export interface TrainingDataset {
  readonly description: string;
  /** Samples in the data set. */
  readonly size: number;
  /** Shape of one sample (C×H×W). */
  readonly sampleShape: readonly number[];
  /** Class names (image folders), when known. */
  readonly classes?: readonly string[];
  readonly hasLabels: boolean;
  /** Samples `indices`, in that order, into `x` (float32); their labels into `labels`. */
  read(indices: readonly number[], x: Float32Array, labels: Int32Array | null): Promise<void>;
  close(): void;
}

export interface TrainingDataOptions extends ImageTransform {
  /** Labels .npy for a .npy data file (class indices, shape [N]). */
  labels?: string;
  /** For uint8 .npy data: how to make floats of it. */
  normalize?: Normalization;
  /** The model input's dims, for the image size (N×C×H×W). */
  modelDims?: readonly (number | string | null)[];
}

/** A .npy file of samples (N × sample shape), with optional labels. */
export function npyDataset(xPath: string, yPath: string | undefined, options: TrainingDataOptions = {}): TrainingDataset {
  const xf: NpyFile = openNpy(xPath);
  let y: LabelFile | null = null;
  try {
    if (xf.shape.length < 2) throw new DataError('shape-mismatch', `${xPath}: training data must have shape (N, ...), got (${xf.shape.join(', ')})`, { path: xPath });
    if (yPath) {
      y = openLabels(yPath);
      if (y.rows !== xf.rows) throw new DataError('shape-mismatch', `${yPath}: ${y.rows} labels for ${xf.rows} samples in ${xPath}`, { path: yPath });
    }
  } catch (e) {
    xf.close();
    y?.close();
    throw e;
  }
  const sampleShape = xf.shape.slice(1);
  const elems = xf.rowElements;
  const norm = options.normalize ? resolveNormalization(options.normalize, sampleShape[0] ?? 1, xPath) : null;
  if (!norm && xf.arrayType !== 'float32') {
    xf.close();
    y?.close();
    throw new DataError('dtype-mismatch', `${xPath} holds ${xf.dtype} data; declare a normalisation, e.g. { scale: 1/255 }`, { path: xPath });
  }
  const plane = elems / (sampleShape[0] ?? 1);
  return {
    description: xPath,
    size: xf.rows,
    sampleShape,
    hasLabels: y !== null,
    async read(indices, x, labels) {
      indices.forEach((row, i) => {
        const data = xf.readRows(row, 1);
        if (norm) normalizePlanar(data as Exclude<typeof data, BigInt64Array>, x, i * elems, 1, plane, norm);
        else x.set(data as Float32Array, i * elems);
        if (labels && y) labels[i] = y.read(row, 1)[0]!;
      });
    },
    close() {
      xf.close();
      y?.close();
    },
  };
}

/** An image folder with one sub-folder per class. */
export async function imageClassDataset(dir: string, options: TrainingDataOptions = {}): Promise<TrainingDataset> {
  const entries = (await fs.readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  if (entries.length === 0) throw new DataError('empty', `${dir}: no class sub-folders (an image folder for training has one sub-folder of images per class)`, { path: dir });
  const files: string[] = [];
  const labelOf: number[] = [];
  for (const [k, cls] of entries.entries()) {
    const found = await listDataFiles(nodePath.join(dir, cls), IMAGE_EXTENSIONS);
    for (const f of found) {
      files.push(f);
      labelOf.push(k);
    }
  }
  if (files.length === 0) throw new DataError('empty', `${dir}: no ${IMAGE_EXTENSIONS.join('/')} images in its class sub-folders`, { path: dir });
  const t = resolveImageTransform(options, options.modelDims, dir);
  const sampleShape = [t.channels, t.cropH, t.cropW];
  const elems = t.channels * t.cropH * t.cropW;
  return {
    description: dir,
    size: files.length,
    sampleShape,
    classes: entries,
    hasLabels: true,
    async read(indices, x, labels) {
      await Promise.all(indices.map((s, i) => loadImage(files[s]!, t, x, i * elems)));
      if (labels) indices.forEach((s, i) => (labels[i] = labelOf[s]!));
    },
    close() {},
  };
}

/** A .npy file (labels from `options.labels`) or an image folder with class sub-folders. */
export async function openTrainingData(path: string, options: TrainingDataOptions = {}): Promise<TrainingDataset> {
  const st = await fs.stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new DataError('not-found', `${path}: no such file or folder (${err.code ?? err.message})`, { path, cause: err });
  });
  if (st.isDirectory()) return imageClassDataset(path, options);
  if (nodePath.extname(path).toLowerCase() !== '.npy') throw new DataError('invalid-option', `${path}: training data is a .npy file (with labels in another .npy) or an image folder with one sub-folder per class`, { path });
  return npyDataset(path, options.labels, options);
}

/** A deterministic permutation of 0..n-1 (mulberry32 + Fisher–Yates), one per (seed, epoch). */
export function shuffledOrder(n: number, seed: number, epoch: number): Uint32Array {
  let a = (seed ^ Math.imul(epoch + 1, 0x9e3779b9)) >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

export interface TrainingBatch {
  inputs: Record<string, ort.Tensor>;
  /** Class indices, when the data set has labels. */
  labels: Int32Array | null;
  index: number;
}

export interface TrainingBatchOptions {
  batchSize: number;
  /** The model input the samples feed. */
  inputName: string;
  /** Shuffle seed (default 0); each epoch gets its own order. */
  seed?: number;
  epoch?: number;
  /** Default true. */
  shuffle?: boolean;
  /** Use only the first `limit` samples. */
  limit?: number;
}

/** Batches in this many samples: the last partial batch is dropped (the training graph has a fixed batch). */
export function batchesPerEpoch(size: number, batchSize: number): number {
  return Math.floor(size / batchSize);
}

/** One epoch of fixed-size batches, shuffled; the last partial batch is dropped. */
export async function* trainingBatches(ds: TrainingDataset, o: TrainingBatchOptions): AsyncGenerator<TrainingBatch> {
  const size = Math.min(ds.size, o.limit ?? Infinity);
  const n = batchesPerEpoch(size, o.batchSize);
  if (n === 0) throw new DataError('empty', `${ds.description}: ${size} samples do not fill one batch of ${o.batchSize}`, { path: ds.description });
  const order = o.shuffle === false ? Uint32Array.from({ length: size }, (_, i) => i) : shuffledOrder(size, o.seed ?? 0, o.epoch ?? 0);
  const elems = ds.sampleShape.reduce((a, b) => a * b, 1);
  for (let b = 0; b < n; b++) {
    const indices = Array.from(order.subarray(b * o.batchSize, (b + 1) * o.batchSize));
    const x = new Float32Array(o.batchSize * elems);
    const labels = ds.hasLabels ? new Int32Array(o.batchSize) : null;
    await ds.read(indices, x, labels);
    yield { inputs: { [o.inputName]: new ort.Tensor('float32', x, [o.batchSize, ...ds.sampleShape]) }, labels, index: b };
  }
}
