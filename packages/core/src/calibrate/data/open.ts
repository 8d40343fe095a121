/** Picks the data source for a path: .npy file/folder, image folder, or JS/TS module. */
import fs from 'node:fs/promises';
import nodePath from 'node:path';
import { DataError } from './errors.js';
import { listDataFiles } from './files.js';
import { IMAGE_EXTENSIONS, imageFolderSource, type ImageTransform } from './image-source.js';
import { MODULE_EXTENSIONS, moduleSource } from './module-source.js';
import { npySource, type NpySourceOptions } from './npy-source.js';
import { npzSource } from './npz.js';
import type { CalibrationDataSource } from './source.js';

export type CalibrationDataKind = 'npy' | 'npz' | 'images' | 'module';

export interface CalibrationDataOptions extends NpySourceOptions, ImageTransform {
  /** Force the kind of source instead of guessing from the path. */
  kind?: CalibrationDataKind;
}

/** Guesses the kind of data at `path` (extension of a file; contents of a folder). */
export async function detectDataKind(path: string): Promise<CalibrationDataKind> {
  const st = await fs.stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new DataError('not-found', `${path}: no such file or folder (${err.code ?? err.message})`, { path, cause: err });
  });
  if (!st.isDirectory()) {
    const ext = nodePath.extname(path).toLowerCase();
    if (ext === '.npy') return 'npy';
    if (ext === '.npz') return 'npz';
    if ((IMAGE_EXTENSIONS as readonly string[]).includes(ext)) return 'images';
    if ((MODULE_EXTENSIONS as readonly string[]).includes(ext)) return 'module';
    throw new DataError(
      'invalid-option',
      `${path}: unknown calibration data type '${ext || '(no extension)'}'; expected .npy, .npz, an image (${IMAGE_EXTENSIONS.join(', ')}), a JS/TS module or a folder`,
      { path },
    );
  }
  const [npy, images] = await Promise.all([listDataFiles(path, ['.npy']), listDataFiles(path, IMAGE_EXTENSIONS)]);
  if (npy.length > 0 && images.length > 0) {
    throw new DataError('invalid-option', `${path} holds both .npy files (${npy.length}) and images (${images.length}); choose the kind explicitly`, { path });
  }
  if (npy.length > 0) return 'npy';
  if (images.length > 0) return 'images';
  throw new DataError('empty', `no calibration samples in ${path} (no .npy files or ${IMAGE_EXTENSIONS.join('/')} images)`, { path });
}

/** Opens calibration data of any supported kind. */
export async function openCalibrationData(path: string, options: CalibrationDataOptions = {}): Promise<CalibrationDataSource> {
  const kind = options.kind ?? (await detectDataKind(path));
  switch (kind) {
    case 'npy':
      return npySource(path, options);
    case 'npz':
      if (options.normalize) throw new DataError('invalid-option', `${path}: normalisation applies to .npy files and images; store the .npz arrays normalised`, { path });
      return npzSource(path, options);
    case 'images':
      return imageFolderSource(path, options);
    case 'module':
      return moduleSource(path, options);
  }
}
