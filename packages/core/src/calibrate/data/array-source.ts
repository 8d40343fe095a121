/**
 * Calibration data already in memory: typed arrays with their shapes, cut into batches
 * along axis 0 as views (no copy). The caller needs no onnxruntime import: the tensors
 * are made here.
 */
import * as ort from 'onnxruntime-node';
import { DataError } from './errors.js';
import { resolveInput, resolveSourceOptions, sizeOf, type CalibrationBatch, type CalibrationDataSource, type SourceOptions } from './source.js';
import { formatDims } from './validate.js';

/** Typed arrays onnxruntime takes as tensor data. */
export type ArrayData = Float32Array | Float64Array | Uint8Array | Int8Array | Uint16Array | Int16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

/** One input's data: the samples stacked on axis 0 of `shape`. */
export interface ArrayInput {
  data: ArrayData;
  /** Full shape, samples first (e.g. [N, 3, 224, 224]). */
  shape: readonly number[];
  /** Element type, when the array's own type is ambiguous (a Uint16Array of float16). */
  type?: 'float16';
}

export interface ArraySourceOptions extends SourceOptions {
  /** What to call the data in messages (default "in-memory arrays"). */
  description?: string;
}

const TYPES: Array<[new (...args: never[]) => ArrayData, ort.Tensor.Type]> = [
  [Float32Array, 'float32'],
  [Float64Array, 'float64'],
  [Uint8Array, 'uint8'],
  [Int8Array, 'int8'],
  [Uint16Array, 'uint16'],
  [Int16Array, 'int16'],
  [Int32Array, 'int32'],
  [Uint32Array, 'uint32'],
  [BigInt64Array, 'int64'],
  [BigUint64Array, 'uint64'],
];

function tensorType(where: string, input: ArrayInput): ort.Tensor.Type {
  if (input.type === 'float16') {
    if (!(input.data instanceof Uint16Array)) throw new DataError('invalid-option', `${where}: float16 data must be a Uint16Array of the raw bits`);
    return 'float16';
  }
  for (const [ctor, type] of TYPES) if (input.data instanceof ctor) return type;
  throw new DataError('unsupported-dtype', `${where}: ${(input.data as object)?.constructor?.name ?? typeof input.data} is not a typed array onnxruntime takes`);
}

interface Column {
  name: string;
  input: ArrayInput;
  type: ort.Tensor.Type;
  rowShape: number[];
  rowSize: number;
}

function column(name: string, input: ArrayInput, where: string): Column {
  const type = tensorType(where, input);
  const shape = [...input.shape];
  if (shape.length === 0 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new DataError('invalid-option', `${where}: shape ${formatDims(shape)} must list the sample count first, then each sample's dimensions`);
  }
  if (sizeOf(shape) !== input.data.length) {
    throw new DataError('shape-mismatch', `${where}: shape ${formatDims(shape)} holds ${sizeOf(shape)} elements but the array has ${input.data.length}`);
  }
  const rowShape = shape.slice(1);
  return { name, input, type, rowShape, rowSize: sizeOf(rowShape) };
}

/**
 * A data source over typed arrays: one input (`arraySource(data, { shape })` or
 * `arraySource({ data, shape })`), or several by model input name
 * (`arraySource({ input_ids: { data, shape }, attention_mask: { data, shape } })`).
 */
export function arraySource(data: ArrayData, options: ArraySourceOptions & { shape: readonly number[] }): CalibrationDataSource;
export function arraySource(data: ArrayInput | Record<string, ArrayInput>, options?: ArraySourceOptions): CalibrationDataSource;
export function arraySource(
  data: ArrayData | ArrayInput | Record<string, ArrayInput>,
  options: ArraySourceOptions & { shape?: readonly number[] } = {},
): CalibrationDataSource {
  const description = options.description ?? 'in-memory arrays';
  const { batchSize, limit } = resolveSourceOptions(options);
  let columns: Column[];
  if (ArrayBuffer.isView(data) || ArrayBuffer.isView((data as ArrayInput).data)) {
    const input: ArrayInput = ArrayBuffer.isView(data) ? { data: data as ArrayData, shape: options.shape ?? [] } : (data as ArrayInput);
    if (ArrayBuffer.isView(data) && !options.shape) throw new DataError('invalid-option', `${description}: give the array's shape ({ shape: [N, ...] })`);
    const { name } = resolveInput(options, description);
    columns = [column(name, input, description)];
  } else {
    const entries = Object.entries(data as Record<string, ArrayInput>);
    if (entries.length === 0) throw new DataError('empty', `no calibration samples in ${description} (no inputs)`);
    columns = entries.map(([name, input]) => column(name, input, `${description}: input '${name}'`));
    const known = options.modelInputs?.map((i) => i.name);
    for (const c of columns) {
      if (known && known.length && !known.includes(c.name)) {
        throw new DataError('unknown-input', `${description}: '${c.name}' is not an input of the model (model inputs: ${known.map((n) => `'${n}'`).join(', ')})`);
      }
    }
  }
  const rows = columns[0]!.input.shape[0]!;
  for (const c of columns) {
    if (c.input.shape[0] !== rows) {
      throw new DataError('inconsistent-files', `${description}: '${columns[0]!.name}' has ${rows} samples but '${c.name}' has ${c.input.shape[0]}`);
    }
  }
  const total = Math.min(rows, limit);
  return {
    description,
    totalSamples: total,
    totalBatches: Math.ceil(total / batchSize),
    async *[Symbol.asyncIterator](): AsyncGenerator<CalibrationBatch> {
      for (let start = 0, index = 0; start < total; start += batchSize, index++) {
        const n = Math.min(batchSize, total - start);
        const inputs: Record<string, ort.Tensor> = {};
        for (const c of columns) {
          const view = c.input.data.subarray(start * c.rowSize, (start + n) * c.rowSize);
          inputs[c.name] = new ort.Tensor(c.type, view as Float32Array, [n, ...c.rowShape]);
        }
        yield { inputs, index, samples: n };
      }
    },
  };
}
