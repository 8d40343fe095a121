/**
 * NumPy .npz archives (np.savez / np.savez_compressed): a zip of .npy arrays keyed by
 * name, ModelOpt's calibration data format (one array per model input). The archive is
 * read into memory; a few lines of zip reading cover what numpy writes (stored or
 * deflated members, zip64 for large ones), with no runtime dependency.
 */
import fs from 'node:fs/promises';
import zlib from 'node:zlib';
import { arraySource, type ArrayInput, type ArraySourceOptions } from './array-source.js';
import { DataError } from './errors.js';
import { parseNpyBytes } from './npy.js';
import type { CalibrationDataSource } from './source.js';

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

function bad(path: string, why: string): never {
  throw new DataError('npy-format', `${path}: not a readable .npz archive (${why})`, { path });
}

interface Member {
  name: string;
  method: number;
  compressedSize: number;
  localOffset: number;
}

/** The members listed in a zip's central directory. */
function members(path: string, buf: Buffer): Member[] {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (buf.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) bad(path, 'no zip end-of-central-directory record');
  let count = buf.readUInt16LE(eocd + 10);
  let offset = buf.readUInt32LE(eocd + 16);
  if ((count === 0xffff || offset === 0xffffffff) && eocd >= 20 && buf.readUInt32LE(eocd - 20) === ZIP64_LOCATOR) {
    const z = Number(buf.readBigUInt64LE(eocd - 20 + 8));
    count = Number(buf.readBigUInt64LE(z + 32));
    offset = Number(buf.readBigUInt64LE(z + 48));
  }
  const out: Member[] = [];
  for (let i = 0, p = offset; i < count; i++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== CENTRAL) bad(path, 'broken central directory');
    const method = buf.readUInt16LE(p + 10);
    let compressedSize = buf.readUInt32LE(p + 20);
    let uncompressedSize = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    let localOffset = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    // zip64: the 0xffffffff fields follow, in order, in extra field 0x0001.
    for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen; ) {
      const id = buf.readUInt16LE(e);
      const size = buf.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        if (uncompressedSize === 0xffffffff) (uncompressedSize = Number(buf.readBigUInt64LE(q))), (q += 8);
        if (compressedSize === 0xffffffff) (compressedSize = Number(buf.readBigUInt64LE(q))), (q += 8);
        if (localOffset === 0xffffffff) localOffset = Number(buf.readBigUInt64LE(q));
      }
      e += 4 + size;
    }
    out.push({ name, method, compressedSize, localOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

function memberBytes(path: string, buf: Buffer, m: Member): Uint8Array {
  const p = m.localOffset;
  if (buf.readUInt32LE(p) !== LOCAL) bad(path, `broken local header of ${m.name}`);
  const start = p + 30 + buf.readUInt16LE(p + 26) + buf.readUInt16LE(p + 28);
  const raw = buf.subarray(start, start + m.compressedSize);
  if (m.method === 0) return raw;
  if (m.method === 8) return zlib.inflateRawSync(raw);
  bad(path, `member ${m.name} uses zip compression method ${m.method}; numpy writes 0 (np.savez) or 8 (np.savez_compressed)`);
}

/** The arrays of an .npz archive by name ("x.npy" → "x"), shapes included. */
export async function readNpz(path: string): Promise<Record<string, ArrayInput>> {
  const buf = await fs.readFile(path).catch((err: NodeJS.ErrnoException) => {
    throw new DataError('not-found', `${path}: no such file (${err.code ?? err.message})`, { path, cause: err });
  });
  const out: Record<string, ArrayInput> = {};
  for (const m of members(path, buf)) {
    if (!m.name.endsWith('.npy')) continue;
    const key = m.name.slice(0, -4);
    const { data, shape } = parseNpyBytes(`${path}[${key}]`, memberBytes(path, buf, m));
    if (shape.length === 0) throw new DataError('shape-mismatch', `${path}[${key}]: a 0-d array is not a batch of samples`, { path });
    out[key] = { data, shape };
  }
  if (Object.keys(out).length === 0) throw new DataError('empty', `no calibration samples in ${path} (no arrays in the archive)`, { path });
  return out;
}

/**
 * A data source over an .npz archive: each array feeds the model input of its name
 * (np.savez(path, input_ids=..., attention_mask=...)), batched along axis 0. An archive
 * of one array feeds a single-input model whatever its name (np.savez(path, x) → "arr_0").
 */
export async function npzSource(path: string, options: ArraySourceOptions = {}): Promise<CalibrationDataSource> {
  const arrays = await readNpz(path);
  const names = Object.keys(arrays);
  const inputs = options.modelInputs ?? [];
  if (names.length === 1 && (options.inputName !== undefined || (inputs.length === 1 && inputs[0]!.name !== names[0]))) {
    return arraySource(arrays[names[0]!]!, { ...options, description: path });
  }
  if (inputs.length) {
    const missing = inputs.map((i) => i.name).filter((n) => !names.includes(n));
    if (missing.length) {
      throw new DataError('missing-input', `${path} has no array for model input${missing.length > 1 ? 's' : ''} ${missing.map((n) => `'${n}'`).join(', ')} (arrays: ${names.map((n) => `'${n}'`).join(', ')}); save one per input: np.savez(path, ${inputs.map((i) => `${i.name}=...`).join(', ')})`, { path });
    }
  }
  return arraySource(arrays, { ...options, description: path });
}
