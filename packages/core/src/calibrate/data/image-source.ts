/**
 * Calibration data from a folder of images (PNG, JPEG, WebP; recursive, sorted), decoded
 * with sharp and preprocessed like torchvision's eval transform:
 * Resize(shorter side) → CenterCrop → ToTensor (×1/255) → Normalize(mean, std), NCHW float32.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import type { OutputInfo } from 'sharp';
import { DataError } from './errors.js';
import { listDataFiles } from './files.js';
import { NotRegularFileError, nonRegularKind, readRegularFile } from '../../util/file-kind.js';
import { loadSharp } from './sharp.js';
import { describeNormalization, resolveNormalization, type ChannelNormalization, type Normalization } from './normalize.js';
import { resolveInput, resolveSourceOptions, type CalibrationBatch, type CalibrationDataSource, type SourceOptions } from './source.js';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp'] as const;

export interface ImageTransform {
  /**
   * Shorter side after resizing, the longer side keeping the aspect ratio (torchvision
   * `Resize(256)`). Default: the crop's shorter side (no resize when the image already
   * has that size).
   */
  resize?: number;
  /** Center crop, `size` or `[height, width]`. Default: the model input's H × W. */
  crop?: number | readonly [number, number];
  /** 1 → grayscale (ITU-R 601-2 luma, as PIL's convert('L')), 3 → RGB. Default: the model input's C, else 3. */
  channels?: 1 | 3;
  /** Default `{ scale: 1/255 }` (ToTensor); add ImageNet's mean/std or your own. */
  normalize?: Normalization;
  /** Resampling kernel (default 'linear', i.e. bilinear like torchvision). */
  kernel?: 'nearest' | 'linear' | 'cubic' | 'mitchell' | 'lanczos3';
  /** Images decoded at once (default min(4, cores)). */
  concurrency?: number;
  /**
   * Tensor layout: "nchw" (PyTorch) or "nhwc" (TensorFlow / Keras exports). Default: the
   * model input's, read from where its 1 or 3 channels sit; else "nchw".
   */
  layout?: 'nchw' | 'nhwc';
}

export interface ImageSourceOptions extends SourceOptions, ImageTransform {}

/** Python's round(): halves to even (torchvision's center crop offset uses it). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Output size of torchvision Resize(size) on a w × h image: the shorter side becomes `size`. */
export function resizedSize(width: number, height: number, size: number): { width: number; height: number } {
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  if (short === size) return { width, height };
  const newLong = Math.floor((size * long) / short);
  return width <= height ? { width: size, height: newLong } : { width: newLong, height: size };
}

interface Resolved {
  resize: number;
  cropH: number;
  cropW: number;
  channels: 1 | 3;
  norm: ChannelNormalization;
  kernel: NonNullable<ImageTransform['kernel']>;
  layout: 'nchw' | 'nhwc';
}

function positiveInt(name: string, v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
    throw new DataError('invalid-option', `${where}: ${name} must be a positive integer, got ${String(v)}`);
  }
  return v;
}

/**
 * Decodes and preprocesses one image into `out` (C×H×W float32 at `offset`).
 * Exported for tests and for single-image tools.
 */
export async function loadImage(file: string, t: Resolved, out: Float32Array, offset: number): Promise<void> {
  let raw: { data: Buffer; info: OutputInfo };
  const sharp = await loadSharp();
  try {
    const bytes = await readRegularFile(file);
    const meta = await sharp(bytes).metadata();
    if (!meta.width || !meta.height) throw new Error('image has no size');
    const size = resizedSize(meta.width, meta.height, t.resize);
    if (size.width < t.cropW || size.height < t.cropH) {
      throw new DataError(
        'image',
        `${file}: the ${t.cropH}×${t.cropW} crop is larger than the image resized to ${size.height}×${size.width} (from ${meta.height}×${meta.width}); raise resize`,
        { path: file },
      );
    }
    let img = sharp(bytes).removeAlpha().toColourspace('srgb');
    if (size.width !== meta.width || size.height !== meta.height) {
      img = img.resize({ width: size.width, height: size.height, fit: 'fill', kernel: t.kernel });
    }
    const top = roundHalfEven((size.height - t.cropH) / 2);
    const left = roundHalfEven((size.width - t.cropW) / 2);
    if (top !== 0 || left !== 0 || size.width !== t.cropW || size.height !== t.cropH) {
      img = img.extract({ left, top, width: t.cropW, height: t.cropH });
    }
    raw = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (err) {
    if (err instanceof DataError) throw err;
    if (err instanceof NotRegularFileError) throw new DataError('not-found', `${file}: is ${err.kind}, not an image file`, { path: file, cause: err });
    throw new DataError('image', `${file}: cannot decode image (${err instanceof Error ? err.message : String(err)})`, { path: file, cause: err });
  }
  const { data, info } = raw;
  const plane = t.cropH * t.cropW;
  if (info.width !== t.cropW || info.height !== t.cropH || (info.channels !== 3 && info.channels !== 1)) {
    throw new DataError('image', `${file}: unexpected decoded layout ${info.width}×${info.height}×${info.channels}`, { path: file });
  }
  const { scale, mean, std } = t.norm;
  const src = info.channels;
  if (t.layout === 'nhwc') {
    // Interleaved: out[(p * C + c)], the channel last.
    const C = t.channels;
    for (let p = 0; p < plane; p++) {
      const i = p * src;
      if (C === 3) {
        for (let c = 0; c < 3; c++) out[offset + p * 3 + c] = (data[i + (src === 3 ? c : 0)]! * scale - mean[c]!) / std[c]!;
      } else {
        const v = src === 1 ? data[i]! : (data[i]! * 19595 + data[i + 1]! * 38470 + data[i + 2]! * 7471 + 0x8000) >> 16;
        out[offset + p] = (v * scale - mean[0]!) / std[0]!;
      }
    }
    return;
  }
  if (t.channels === 3) {
    for (let c = 0; c < 3; c++) {
      const m = mean[c]!;
      const s = std[c]!;
      const base = offset + c * plane;
      const sc = src === 3 ? c : 0;
      for (let p = 0; p < plane; p++) out[base + p] = (data[p * src + sc]! * scale - m) / s;
    }
  } else {
    const m = mean[0]!;
    const s = std[0]!;
    for (let p = 0; p < plane; p++) {
      const i = p * src;
      const v = src === 1 ? data[i]! : (data[i]! * 19595 + data[i + 1]! * 38470 + data[i + 2]! * 7471 + 0x8000) >> 16;
      out[offset + p] = (v * scale - m) / s;
    }
  }
}

/** Resolves the preprocessing from options and the model input's shape. */
export function resolveImageTransform(options: ImageSourceOptions, modelDims: readonly (number | string | null)[] | undefined, where: string): Resolved {
  const dimAt = (i: number): number | undefined => {
    const d = modelDims?.length === 4 ? modelDims[i] : undefined;
    return typeof d === 'number' && d > 0 ? d : undefined;
  };
  const isChannels = (d: number | undefined) => d === 1 || d === 3;
  const layout = options.layout ?? (isChannels(dimAt(3)) && !isChannels(dimAt(1)) ? 'nhwc' : 'nchw');
  if (layout !== 'nchw' && layout !== 'nhwc') throw new DataError('invalid-option', `${where}: layout must be "nchw" or "nhwc", got ${String(layout)}`);
  // fixed(1) = C, fixed(2) = H, fixed(3) = W whatever the layout.
  const fixed = (i: number): number | undefined => dimAt(layout === 'nchw' ? i : i === 1 ? 3 : i - 1);
  let cropH: number | undefined;
  let cropW: number | undefined;
  if (options.crop !== undefined) {
    if (typeof options.crop === 'number') cropH = cropW = positiveInt('crop', options.crop, where);
    else {
      cropH = positiveInt('crop height', options.crop[0], where);
      cropW = positiveInt('crop width', options.crop[1], where);
    }
  } else {
    cropH = fixed(2);
    cropW = fixed(3);
  }
  if (cropH === undefined || cropW === undefined) {
    throw new DataError('invalid-option', `${where}: the image size is unknown (the model input has no fixed H×W); set crop (and resize)`);
  }
  const resize = options.resize !== undefined ? positiveInt('resize', options.resize, where) : Math.min(cropH, cropW);
  const channels = options.channels ?? (fixed(1) === 1 ? 1 : 3);
  if (channels !== 1 && channels !== 3) throw new DataError('invalid-option', `${where}: channels must be 1 or 3, got ${String(channels)}`);
  const modelC = fixed(1);
  if (modelC !== undefined && modelC !== channels) {
    throw new DataError('invalid-option', `${where}: channels ${channels} but the model input has ${modelC} channels`);
  }
  // 8-bit pixels are scaled to [0, 1] unless the normalisation (or its preset) says otherwise.
  const given = options.normalize;
  const norm = resolveNormalization(given?.preset !== undefined || given?.scale !== undefined ? given : { ...given, scale: 1 / 255 }, channels, where);
  return { resize, cropH, cropW, channels, norm, kernel: options.kernel ?? 'linear', layout };
}

/** Opens a folder of images (or one image file) as a data source. */
export async function imageFolderSource(path: string, options: ImageSourceOptions = {}): Promise<CalibrationDataSource> {
  const { batchSize, limit } = resolveSourceOptions(options);
  const st = await fs.stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new DataError('not-found', `${path}: no such file or folder (${err.code ?? err.message})`, { path, cause: err });
  });
  const files = st.isDirectory() ? await listDataFiles(path, IMAGE_EXTENSIONS) : [path];
  if (files.length === 0) {
    throw new DataError('empty', `no calibration samples in ${path} (no ${IMAGE_EXTENSIONS.join('/')} images)`, { path });
  }
  const input = resolveInput(options, path);
  await loadSharp(); // a missing sharp is reported before any work
  const t = resolveImageTransform(options, input.info?.dims, path);
  const concurrency = options.concurrency !== undefined ? positiveInt('concurrency', options.concurrency, path) : Math.min(4, os.availableParallelism());
  const selected = files.slice(0, Math.min(files.length, limit));
  // A FIFO or a device among the images would block the read mid-run: refuse it now.
  for (const file of selected) {
    const kind = nonRegularKind(await fs.stat(file));
    if (kind !== null) throw new DataError('not-found', `${file}: is ${kind}, not an image file`, { path: file });
  }
  const sampleElems = t.channels * t.cropH * t.cropW;
  const totalBatches = Math.ceil(selected.length / batchSize);

  const decodeBatch = async (b: number): Promise<CalibrationBatch> => {
    const batchFiles = selected.slice(b * batchSize, (b + 1) * batchSize);
    const out = new Float32Array(batchFiles.length * sampleElems);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < batchFiles.length) {
        const i = next++;
        await loadImage(batchFiles[i]!, t, out, i * sampleElems);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, batchFiles.length) }, worker));
    const dims = t.layout === 'nhwc' ? [batchFiles.length, t.cropH, t.cropW, t.channels] : [batchFiles.length, t.channels, t.cropH, t.cropW];
    const tensor = new ort.Tensor('float32', out, dims);
    return { inputs: { [input.name]: tensor }, index: b, samples: batchFiles.length };
  };

  async function* iterate(): AsyncGenerator<CalibrationBatch> {
    // Decode one batch ahead while the caller runs the model on the current one.
    let pending: Promise<CalibrationBatch> | undefined = totalBatches > 0 ? decodeBatch(0) : undefined;
    for (let b = 0; pending; b++) {
      const current: Promise<CalibrationBatch> = pending;
      pending = b + 1 < totalBatches ? decodeBatch(b + 1) : undefined;
      pending?.catch(() => {}); // surfaced when awaited; silenced if iteration stops early
      yield await current;
    }
  }

  return {
    description: path,
    totalSamples: selected.length,
    totalBatches,
    normalization: `${describeNormalization(options.normalize, 1 / 255)}; resize ${t.resize}, center crop ${t.cropH}×${t.cropW}, ${t.channels === 3 ? 'RGB' : 'grayscale'}, ${t.layout.toUpperCase()}`,
    normalizationGiven: options.normalize !== undefined && Object.values(options.normalize).some((v) => v !== undefined),
    [Symbol.asyncIterator]: iterate,
  };
}
