/**
 * The files a pipeline step reads and writes: loading and validating the input model, and
 * refusing an output path that would overwrite an input.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { modelInputsOf, type ModelInputInfo } from '../../calibrate/data/validate.js';
import { displayPath } from '../../config/load.js';
import type { Model } from '../../ir/model.js';
import { loadModel } from '../../onnx/load.js';
import { firstLine } from '../../plugins/load.js';
import { checkOutputTarget, isSameFile, wouldOverwrite } from '../../util/atomic-write.js';
import { nonRegularKind } from '../../util/file-kind.js';
import { ModelInputError, UsageError } from '../errors.js';

/**
 * Opens the model in onnxruntime once, so a file that decodes as ONNX but is not a valid
 * model is reported as bad input (exit 2) before any work; returns its inputs.
 */
export async function validateModelFile(file: string): Promise<ModelInputInfo[]> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(file, { graphOptimizationLevel: 'disabled', logSeverityLevel: 4 });
  } catch (err) {
    throw new ModelInputError(`${displayPath(file)}: not a valid model, onnxruntime cannot load it: ${firstLine(err)}`, { cause: err });
  }
  try {
    return modelInputsOf(session);
  } finally {
    await session.release().catch(() => {});
  }
}

/** Loads an ONNX model, as bad input (exit 2) when it cannot be. */
export function loadInputModel(file: string): Model {
  return loadModel(file);
}

/** An input a later step reads must exist now and be a file or a folder (a FIFO or a device would block it). */
export async function checkInputPath(file: string, what: string): Promise<void> {
  const st = await fsp.stat(file).catch(() => undefined);
  if (!st) throw new UsageError(`${what} ${displayPath(file)}: no such file or folder`);
  const kind = nonRegularKind(st);
  if (kind !== null && !st.isDirectory()) throw new UsageError(`${what} ${displayPath(file)}: is ${kind}, not a regular file`);
}

/**
 * Refuses, before any work, an output path that would overwrite an input (the model, its
 * external data, a data or label file, a file inside a calibration folder — by path,
 * symlink or hard link), names a folder (`out/`), or is not a writable regular file in a
 * writable folder (a device node, a FIFO, a read-only file).
 */
export async function checkOutputPath(output: string, inputs: readonly (string | undefined)[]): Promise<void> {
  if (/[\\/]$/.test(output)) {
    throw new UsageError(`output ${displayPath(output)} ends with a path separator (a folder); give a file name (e.g. ${path.join(displayPath(output), 'model.int8.onnx')})`);
  }
  const abs = path.resolve(output);
  for (const input of inputs) {
    if (input !== undefined && (await wouldOverwrite(abs, input))) {
      const inFolder = (await fsp.stat(input).catch(() => undefined))?.isDirectory() && !(await isSameFile(abs, input));
      throw new UsageError(`refusing to write ${displayPath(abs)}: it is ${inFolder ? 'inside the input folder' : 'the input'} ${displayPath(input)}; choose another output path`);
    }
  }
  const st = await fsp.stat(abs).catch(() => undefined);
  if (st?.isDirectory()) throw new UsageError(`output ${displayPath(abs)} is a folder; give a file name (e.g. ${path.join(displayPath(abs), 'model.int8.onnx')})`);
  await checkOutputTarget(abs);
}

