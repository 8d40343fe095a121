/** Errors of plugin loading (kept apart from the loader so error handling stays cheap to import). */

export type PluginErrorKind =
  /** No such package (or file) from the folder it is resolved from. */
  | 'not-found'
  /** The package is there but cannot be used: no entry file, throws on import, wrong export shape, failing register(). */
  | 'broken'
  /** A backend or calibration method nobody registered. */
  | 'not-registered';

/** A plugin that cannot be found or used; the CLI reports it as bad input (exit 2). */
export class PluginError extends Error {
  override readonly name = 'PluginError';
  readonly kind: PluginErrorKind;
  /** The plugin as the user named it. */
  readonly spec: string;
  constructor(kind: PluginErrorKind, spec: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.spec = spec;
  }
}

export function isPluginError(err: unknown): err is PluginError {
  return err instanceof PluginError || (err instanceof Error && err.name === 'PluginError' && typeof (err as { spec?: unknown }).spec === 'string');
}

/** The first non-empty line of an error's message. */
export function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return (msg.split('\n').find((l) => l.trim() !== '') ?? msg).trim();
}
