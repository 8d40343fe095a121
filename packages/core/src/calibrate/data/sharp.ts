/**
 * sharp (native, ~19 MB) is an optional dependency, loaded on the first image only:
 * importing core, or calibrating from .npy or arrays, never loads it.
 */
import type sharpType from 'sharp';
import { DataError } from './errors.js';

export type Sharp = typeof sharpType;

let loading: Promise<Sharp> | undefined;

/** Imports sharp once (a failed import is retried next time). */
export function loadSharp(): Promise<Sharp> {
  loading ??= importSharp().catch((err: unknown) => {
    loading = undefined;
    throw err;
  });
  return loading;
}

/** Imports sharp; a missing or broken install is a DataError saying what to install. */
export function importSharp(importer: () => Promise<{ default: Sharp }> = () => import('sharp')): Promise<Sharp> {
  return importer().then(
    (m) => m.default,
    (err: unknown) => {
      const code = (err as { code?: unknown }).code;
      const missing = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
      const why = missing ? 'it is not installed' : `it failed to load (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`;
      throw new DataError(
        'image',
        `reading images needs sharp, an optional dependency of @qdeploy/core, and ${why}: run \`npm install sharp\` (or give calibration data as .npy/.npz)`,
        { cause: err },
      );
    },
  );
}
