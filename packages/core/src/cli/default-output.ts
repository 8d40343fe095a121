/**
 * Without -o, quantize writes `<name>.int8.onnx` beside the input model, and never over a
 * file that is already there unless --force says so.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { displayPath } from '../config/load.js';
import { UsageError } from './errors.js';

/** `dir/name.onnx` → `dir/name.int8.onnx` (any extension is replaced; none is added to). */
export function defaultOutputPath(model: string): string {
  const ext = path.extname(model);
  const base = ext.toLowerCase() === '.onnx' ? path.basename(model, ext) : path.basename(model);
  return path.join(path.dirname(model), `${base}.int8.onnx`);
}

/** The default output for `model`; an existing file there is refused unless `force`. */
export async function defaultOutput(model: string, force: boolean): Promise<string> {
  const out = defaultOutputPath(model);
  if (!force && (await fsp.lstat(out).catch(() => undefined))) {
    throw new UsageError(`${displayPath(out)} already exists: pass --force to replace it, or -o to write elsewhere`);
  }
  return out;
}
