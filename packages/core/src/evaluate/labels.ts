import { DataError } from '../calibrate/data/errors.js';
import { openNpy, type NpyFile } from '../calibrate/data/npy.js';

/**
 * Class labels from a .npy file: shape [N] or [N, 1], integer dtype (int64 as PyTorch and
 * NumPy write them, int32, uint8 or int8). Read batch by batch like the data.
 */
export interface LabelFile {
  path: string;
  rows: number;
  /** Labels of rows [start, start + count) as plain numbers. */
  read(start: number, count: number): Int32Array;
  close(): void;
}

export function openLabels(path: string): LabelFile {
  const f: NpyFile = openNpy(path);
  try {
    const shapeOk = f.shape.length === 1 || (f.shape.length === 2 && f.shape[1] === 1);
    if (!shapeOk) {
      throw new DataError('shape-mismatch', `${path}: labels must have shape (N,) or (N, 1), got (${f.shape.join(', ')})`, { path });
    }
    if (f.arrayType === 'float32') {
      throw new DataError('unsupported-dtype', `${path}: labels must be integers (int64, int32, uint8, int8), got ${f.dtype}`, { path });
    }
  } catch (e) {
    f.close();
    throw e;
  }
  return {
    path,
    rows: f.rows,
    read(start, count) {
      const raw = f.readRows(start, count);
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const v = raw instanceof BigInt64Array ? Number(raw[i]!) : raw[i]!;
        if (!Number.isSafeInteger(v) || v < 0 || v > 0x7fffffff) {
          throw new DataError('invalid-option', `${path}: label at row ${start + i} is ${String(raw[i])}, not a class index`, { path });
        }
        out[i] = v;
      }
      return out;
    },
    close: () => f.close(),
  };
}
