/**
 * Calibration data from a .npy file or a folder of .npy files. Each file holds either a
 * batch (N × sample shape, e.g. N×C×H×W) or one sample (e.g. C×H×W); batches are cut
 * across file boundaries and read row by row, so memory stays at one batch.
 */
import fs from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { DataError } from './errors.js';
import { listDataFiles } from './files.js';
import { allocateNpyArray, openNpy, readNpyHeader, type NpyArray, type NpyArrayType, type NpyFile, type NpyHeader } from './npy.js';
import { describeNormalization, normalizePlanar, resolveNormalization, type ChannelNormalization, type Normalization } from './normalize.js';
import {
  resolveInput,
  resolveSourceOptions,
  sizeOf,
  type CalibrationBatch,
  type CalibrationDataSource,
  type SourceOptions,
} from './source.js';
import { formatDims } from './validate.js';

export interface NpySourceOptions extends SourceOptions {
  /**
   * Applied on the fly (values become float32), per channel along axis 0 of a sample.
   * Needed for uint8 data feeding a float model: `{ scale: 1/255, mean: [...], std: [...] }`.
   */
  normalize?: Normalization;
  /**
   * Rank of one sample (3 for C×H×W). Decides whether a file is a batch (rank + 1) or a
   * single sample (rank). Default: the model input's rank − 1; without model inputs every
   * file is taken as a batch.
   */
  sampleRank?: number;
}

interface FileEntry {
  header: NpyHeader;
  /** Samples the file contributes. */
  rows: number;
}

/** Opens a .npy file or a folder of .npy files (recursive, sorted) as a data source. */
export async function npySource(path: string, options: NpySourceOptions = {}): Promise<CalibrationDataSource> {
  const { batchSize, limit } = resolveSourceOptions(options);
  const st = await fs.stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new DataError('not-found', `${path}: no such file or folder (${err.code ?? err.message})`, { path, cause: err });
  });
  const files = st.isDirectory() ? await listDataFiles(path, ['.npy']) : [path];
  if (files.length === 0) throw new DataError('empty', `no calibration samples in ${path} (no .npy files)`, { path });
  const input = resolveInput(options, path);

  const modelRank = input.info && input.info.dims.length > 0 ? input.info.dims.length - 1 : undefined;
  const sampleRank = options.sampleRank ?? modelRank;

  const entries: FileEntry[] = [];
  let sampleShape: number[] | undefined;
  let first: NpyHeader | undefined;
  for (const file of files) {
    const header = readNpyHeader(file);
    let rows: number;
    let shape: number[];
    if (sampleRank === undefined || header.shape.length === sampleRank + 1) {
      if (header.shape.length === 0) {
        throw new DataError('shape-mismatch', `${file}: a 0-d array is not a batch of samples`, { path: file });
      }
      rows = header.rows;
      shape = header.rowShape;
    } else if (header.shape.length === sampleRank) {
      rows = 1;
      shape = header.shape;
    } else {
      const model = input.info ? ` of model input '${input.name}' ${formatDims(input.info.dims)}` : '';
      throw new DataError(
        'shape-mismatch',
        `${file}: shape ${formatDims(header.shape)} is neither a batch (rank ${sampleRank + 1}) nor one sample (rank ${sampleRank})${model}`,
        { path: file },
      );
    }
    if (first === undefined || sampleShape === undefined) {
      first = header;
      sampleShape = shape;
    } else {
      if (header.dtype !== first.dtype) {
        throw new DataError('inconsistent-files', `${file}: dtype ${header.dtype} differs from ${first.path} (${first.dtype})`, { path: file });
      }
      if (shape.length !== sampleShape.length || shape.some((d, i) => d !== sampleShape![i])) {
        throw new DataError(
          'inconsistent-files',
          `${file}: sample shape ${formatDims(shape)} differs from ${first.path} (${formatDims(sampleShape)})`,
          { path: file },
        );
      }
    }
    if (rows > 0) entries.push({ header, rows });
  }
  const available = entries.reduce((a, e) => a + e.rows, 0);
  if (available === 0 || !first || !sampleShape) throw new DataError('empty', `no calibration samples in ${path}`, { path });
  const totalSamples = Math.min(available, limit);
  const sampleElems = sizeOf(sampleShape);
  const shapeOfSample = sampleShape;

  let norm: ChannelNormalization | undefined;
  if (options.normalize) {
    if (first.arrayType === 'int64') {
      throw new DataError('invalid-option', `${path}: normalisation cannot be applied to int64 data`, { path });
    }
    const channels = shapeOfSample.length > 0 ? shapeOfSample[0]! : 1;
    norm = resolveNormalization(options.normalize, channels, path);
  } else if (first.arrayType === 'uint8' && input.info && input.info.type !== 'uint8') {
    throw new DataError(
      'dtype-mismatch',
      `${path} holds uint8 data but model input '${input.name}' is ${input.info.type}: declare a normalisation, e.g. { scale: 1/255, mean: [...], std: [...] }`,
      { path },
    );
  }
  const outType: NpyArrayType = norm ? 'float32' : first.arrayType;
  const plane = shapeOfSample.length > 0 ? sampleElems / shapeOfSample[0]! : 1;

  const makeBuffer = (n: number): NpyArray => allocateNpyArray(outType, n);

  async function* iterate(): AsyncGenerator<CalibrationBatch> {
    let fileIndex = 0;
    let row = 0;
    let open: NpyFile | undefined;
    let index = 0;
    try {
      for (let emitted = 0; emitted < totalSamples; ) {
        const n = Math.min(batchSize, totalSamples - emitted);
        let batch: NpyArray | undefined;
        for (let filled = 0; filled < n; ) {
          const entry = entries[fileIndex]!;
          open ??= openNpy(entry.header.path);
          const take = Math.min(n - filled, entry.rows - row);
          const data = open.readRows(row, take);
          if (norm) {
            batch ??= makeBuffer(n * sampleElems);
            normalizePlanar(data as Exclude<NpyArray, BigInt64Array>, batch as Float32Array, filled * sampleElems, take, plane, norm);
          } else if (take === n) {
            batch = data; // the whole batch came from one read: no copy
          } else {
            batch ??= makeBuffer(n * sampleElems);
            (batch as Float32Array).set(data as Float32Array, filled * sampleElems);
          }
          filled += take;
          row += take;
          if (row === entry.rows) {
            open.close();
            open = undefined;
            fileIndex++;
            row = 0;
          }
        }
        emitted += n;
        const tensor = new ort.Tensor(outType, batch as Float32Array, [n, ...shapeOfSample]);
        yield { inputs: { [input.name]: tensor }, index: index++, samples: n };
      }
    } finally {
      open?.close();
    }
  }

  return {
    description: path,
    totalSamples,
    totalBatches: Math.ceil(totalSamples / batchSize),
    normalization: describeNormalization(options.normalize),
    [Symbol.asyncIterator]: iterate,
  };
}
