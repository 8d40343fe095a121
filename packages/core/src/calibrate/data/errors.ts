/**
 * Errors about the user's calibration data (files, shapes, values). The CLI maps every
 * DataError to exit code 2 ("your input is wrong"), as opposed to internal failures.
 */

/** What went wrong, stable for programs (like Node's `err.code`). */
export type DataErrorKind =
  /** The path does not exist or is not the kind of entry expected. */
  | 'not-found'
  /** The data set holds no samples. */
  | 'empty'
  /** A .npy file is malformed: bad magic, unreadable header, fortran order, big-endian. */
  | 'npy-format'
  /** A .npy file holds fewer bytes than its header announces. */
  | 'npy-truncated'
  /** An element type that qdeploy cannot read. */
  | 'unsupported-dtype'
  /** Files of one data set disagree on per-sample shape or dtype. */
  | 'inconsistent-files'
  /** An image could not be decoded or does not fit the requested crop. */
  | 'image'
  /** A JS/TS data module failed to load or exports nothing usable. */
  | 'module'
  /** An option (batch size, limit, normalisation, input name) is invalid. */
  | 'invalid-option'
  /** A batch's tensor shape does not match the model input. */
  | 'shape-mismatch'
  /** A batch's tensor element type does not match the model input. */
  | 'dtype-mismatch'
  /** A model input is missing from a batch. */
  | 'missing-input'
  /** A batch has an input the model does not have. */
  | 'unknown-input'
  /** A batch contains NaN or ±Infinity. */
  | 'non-finite';

export class DataError extends Error {
  override readonly name = 'DataError';
  readonly kind: DataErrorKind;
  /** The file or folder the error is about, when there is one. */
  readonly path?: string;

  constructor(kind: DataErrorKind, message: string, options?: { path?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    if (options?.path !== undefined) this.path = options.path;
  }
}

/** True for a DataError, also one thrown by another copy of this package. */
export function isDataError(err: unknown): err is DataError {
  return (
    err instanceof DataError ||
    (err instanceof Error && err.name === 'DataError' && typeof (err as { kind?: unknown }).kind === 'string')
  );
}
