/**
 * The common shape of every calibration data source: an async iterable of batches,
 * re-iterable (each iteration starts from the first sample), memory bounded by a batch.
 */
import * as ort from 'onnxruntime-node';
import { DataError } from './errors.js';
import type { ModelInputInfo } from './validate.js';

/** One batch of model inputs. */
export interface CalibrationBatch {
  /** Model input name → tensor with the batch on axis 0. */
  inputs: Record<string, ort.Tensor>;
  /** 0-based batch number. */
  index: number;
  /** Samples in this batch (axis 0 of the inputs). */
  samples: number;
}

export interface CalibrationDataSource extends AsyncIterable<CalibrationBatch> {
  /** What the data is, for messages: usually the path the user gave. */
  readonly description: string;
  /** Samples one iteration yields (after `limit`), when known in advance. */
  readonly totalSamples?: number;
  /** Batches one iteration yields, when known in advance. */
  readonly totalBatches?: number;
  /** What was done to the values as they were read, for reports (image folders, .npy with a normalisation). */
  readonly normalization?: string;
  /** Image folders: whether the caller chose a normalisation (false: the default x/255 only), for the "no normalisation" warning. */
  readonly normalizationGiven?: boolean;
}

export interface SourceOptions {
  /** Samples per batch (default 32). Module sources batch themselves and ignore it. */
  batchSize?: number;
  /** Stop after this many samples (the last batch is cut short). */
  limit?: number;
  /** Model input the data feeds (default: the model's only input). */
  inputName?: string;
  /** The model's inputs: defaults for inputName, image size and npy layout, early checks. */
  modelInputs?: readonly ModelInputInfo[];
}

export const DEFAULT_BATCH_SIZE = 32;

export interface ResolvedSourceOptions {
  batchSize: number;
  limit: number;
}

/** Checks batchSize / limit. */
export function resolveSourceOptions(options: SourceOptions): ResolvedSourceOptions {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new DataError('invalid-option', `batchSize must be a positive integer, got ${String(options.batchSize)}`);
  }
  const limit = options.limit ?? Infinity;
  if (limit !== Infinity && (!Number.isSafeInteger(limit) || limit < 1)) {
    throw new DataError('invalid-option', `limit must be a positive integer, got ${String(options.limit)}`);
  }
  return { batchSize, limit };
}

/**
 * The model input a single-input source feeds: `inputName`, else the model's only input.
 * Returns the matching ModelInputInfo when the model inputs are known.
 */
export function resolveInput(options: SourceOptions, source: string): { name: string; info?: ModelInputInfo } {
  const inputs = options.modelInputs;
  if (options.inputName !== undefined) {
    if (inputs && inputs.length > 0) {
      const info = inputs.find((i) => i.name === options.inputName);
      if (!info) {
        throw new DataError(
          'unknown-input',
          `inputName '${options.inputName}' is not an input of the model (model inputs: ${inputs.map((i) => `'${i.name}'`).join(', ')})`,
        );
      }
      return { name: info.name, info };
    }
    return { name: options.inputName };
  }
  if (inputs && inputs.length === 1) return { name: inputs[0]!.name, info: inputs[0]! };
  if (inputs && inputs.length > 1) {
    throw new DataError(
      'invalid-option',
      `${source} gives one tensor per batch but the model has ${inputs.length} inputs (${inputs.map((i) => `'${i.name}'`).join(', ')}); set inputName, or use a data module that yields every input`,
    );
  }
  // Not known yet: the batch is fed as a bare tensor and goes to the model's only input.
  return { name: UNNAMED_INPUT };
}

/**
 * The key of a batch's tensor when the source was opened without the model's inputs or an
 * inputName; toForwardLoop passes such a tensor bare, and calibrate() gives it to the
 * model's single input.
 */
export const UNNAMED_INPUT = '';

/** Elements in a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The first `count` entries of a tensor along axis 0 (a view, no copy). */
export function sliceBatch(tensor: ort.Tensor, count: number): ort.Tensor {
  const dims = tensor.dims;
  if (dims.length === 0 || dims[0]! <= count) return tensor;
  const rest = dims.slice(1);
  const data = tensor.data as unknown as { subarray(a: number, b: number): unknown } | string[];
  const n = count * sizeOf(rest);
  const sliced = Array.isArray(data) ? data.slice(0, n) : data.subarray(0, n);
  return new ort.Tensor(tensor.type, sliced as Float32Array, [count, ...rest]);
}
