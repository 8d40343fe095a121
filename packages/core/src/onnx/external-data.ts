import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TensorProto } from './proto.js';
import { OnnxFormatError } from './errors.js';
import { nonRegularKind } from '../util/file-kind.js';
import { quoteName } from '../util/printable.js';
import type { Model } from '../ir/model.js';

/** Where one tensor's bytes live in an external data file. */
export interface ExternalDataRef {
  /** Absolute, validated path of the data file. */
  file: string;
  offset: number;
  length: number;
  /** The location string exactly as the model wrote it. */
  location: string;
}

/**
 * Resolves a tensor's `external_data` entries against the model's folder. A location
 * that is absolute or climbs out of the folder (`../`) is refused: ONNX's own loader had
 * path-traversal CVEs in 2024 (CVE-2024-27318, CVE-2024-5187) for exactly this.
 */
export function resolveExternalData(tensor: TensorProto, baseDir: string, modelFile: string): ExternalDataRef {
  const entries = new Map((tensor.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const location = entries.get('location');
  const name = tensor.name ?? '(unnamed)';
  if (!location) throw new OnnxFormatError(modelFile, `tensor ${quoteName(name)} is stored externally but has no "location"`);
  if (location.includes('\0')) {
    throw new OnnxFormatError(modelFile, `tensor ${quoteName(name)}: external data location ${quoteName(location)} contains a NUL character; it is not a valid file name`);
  }
  if (path.isAbsolute(location) || path.win32.isAbsolute(location)) {
    throw new OnnxFormatError(modelFile, `tensor ${quoteName(name)}: external data location ${quoteName(location)} is an absolute path; only files inside the model's folder are allowed`);
  }
  const root = path.resolve(baseDir);
  const file = path.resolve(root, location);
  const rel = path.relative(root, file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new OnnxFormatError(modelFile, `tensor ${quoteName(name)}: external data location ${quoteName(location)} escapes the model's folder ${root}`);
  }
  if (!fs.existsSync(file)) throw new OnnxFormatError(modelFile, `tensor ${quoteName(name)}: external data file ${quoteName(location)} not found in ${root}`);
  // A symlink inside the folder could still point outside it.
  const real = fs.realpathSync(file);
  const realRoot = fs.realpathSync(root);
  const realRel = path.relative(realRoot, real);
  if (realRel.startsWith('..') || path.isAbsolute(realRel)) {
    throw new OnnxFormatError(modelFile, `tensor ${quoteName(name)}: external data file ${quoteName(location)} links outside the model's folder`);
  }
  const st = fs.statSync(real);
  // Reading a FIFO or a device would block (or never end): only regular files hold tensor bytes.
  const kind = nonRegularKind(st);
  if (kind !== null) throw new OnnxFormatError(modelFile, `tensor ${quoteName(name)}: external data file ${quoteName(location)} is ${kind}, not a regular file`);
  const size = st.size;
  const offset = entries.has('offset') ? Number(entries.get('offset')) : 0;
  const length = entries.has('length') ? Number(entries.get('length')) : size - offset;
  if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(length) || length < 0 || offset + length > size) {
    throw new OnnxFormatError(modelFile, `tensor ${quoteName(name)}: external data [offset ${offset}, length ${length}] lies outside ${quoteName(location)} (${size} bytes)`);
  }
  return { file: real, offset, length, location };
}

/** Reads one tensor's bytes from its external file (positional read: the file is never read whole). */
export function readExternalData(ref: ExternalDataRef): Uint8Array {
  const buf = new Uint8Array(ref.length);
  const fd = fs.openSync(ref.file, 'r');
  try {
    let done = 0;
    while (done < ref.length) {
      const n = fs.readSync(fd, buf, done, ref.length - done, ref.offset + done);
      if (n === 0) throw new Error(`unexpected end of ${ref.file} at byte ${ref.offset + done}`);
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return buf;
}

/** The external data files a model's weights are read from (never to be overwritten). */
export function externalDataFiles(model: Model): string[] {
  const files = new Set<string>();
  for (const v of model.graph.initializers()) {
    const ref = v.initializer!.externalRef;
    if (ref) files.add(ref.file);
  }
  return [...files];
}
