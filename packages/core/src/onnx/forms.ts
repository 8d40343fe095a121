/**
 * Both forms of model I/O under explicit names, like Node's readFile / readFileSync:
 * `loadModelAsync` / `saveModelAsync` and `loadModelSync` / `saveModelSync`. (`loadModel`
 * is the sync form and `saveModel` the async one, kept for existing code.)
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Model } from '../ir/model.js';
import { ProtectedPathError, registerTempFile } from '../util/atomic-write.js';
import { OnnxFormatError } from './errors.js';
import { externalDataFiles } from './external-data.js';
import { loadModel, type LoadOptions } from './load.js';
import { modelToBytes, saveModel, type Exportable, type SaveOptions } from './save.js';

/** The synchronous form of loading (the same function as `loadModel`). */
export const loadModelSync: (source: string | Uint8Array, options?: LoadOptions) => Model = loadModel;

/** Reads the file without blocking the event loop, then decodes it as `loadModel` does. */
export async function loadModelAsync(source: string | Uint8Array, options: LoadOptions = {}): Promise<Model> {
  if (typeof source !== 'string') return loadModel(source, options);
  const st = await fsp.stat(source).catch(() => undefined);
  // The checks and messages of loadModel (missing, folder, empty) come from loadModel itself.
  if (!st?.isFile() || st.size === 0) return loadModel(source, options);
  const bytes = await fsp.readFile(source);
  const model = loadModel(bytes, { ...options, name: options.name ?? source, baseDir: options.baseDir ?? path.dirname(path.resolve(source)) });
  model.sourcePath = path.resolve(source);
  return model;
}

/** The asynchronous form of saving (the same function as `saveModel`). */
export const saveModelAsync: (input: Model | Exportable, file: string, options?: SaveOptions) => Promise<void> = saveModel;

function sameFileSync(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return fs.realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  if (real(a) === real(b)) return true;
  try {
    const [sa, sb] = [fs.statSync(a), fs.statSync(b)];
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}

/**
 * Writes a model as ONNX synchronously, with saveModel's guarantees: a temporary file
 * renamed into place, never over the model's own source. Models that need external data
 * (over 2 GiB, or `externalData` asked for) are saveModel's job.
 */
export function saveModelSync(input: Model | Exportable, file: string, options: Omit<SaveOptions, 'externalData'> & { externalData?: false } = {}): void {
  const model = typeof (input as Exportable).toExportModel === 'function' ? (input as Exportable).toExportModel() : (input as Model);
  const target = path.resolve(file);
  const protect = [model.sourcePath, ...externalDataFiles(model), ...(options.protect ?? [])].filter((p): p is string => !!p);
  for (const p of protect) if (sameFileSync(target, p)) throw new ProtectedPathError(target, p, 'input model (or its data)');
  let bytes: Uint8Array;
  try {
    bytes = modelToBytes(model);
  } catch (err) {
    if (err instanceof RangeError) throw new OnnxFormatError(target, `too large for a single protobuf file (${err.message}): use saveModel with externalData`);
    throw err;
  }
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const unregister = registerTempFile(tmp);
  try {
    const fd = fs.openSync(tmp, 'wx');
    try {
      fs.writeFileSync(fd, bytes);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  } finally {
    unregister();
  }
}
