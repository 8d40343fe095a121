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

/** What was thrown, as text: an Error's message; a thrown object's `message`, else a short JSON of it. */
function thrownText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null) {
    const m = (err as { message?: unknown }).message;
    if (typeof m === 'string' && m) return m;
    try {
      const json = JSON.stringify(err);
      if (json !== undefined) return `a thrown value that is not an Error: ${json.length > 200 ? `${json.slice(0, 200)}...` : json}`;
    } catch {
      // circular: fall through
    }
    return `a thrown ${Object.prototype.toString.call(err).slice(8, -1)} that is not an Error`;
  }
  return String(err);
}

/** The first non-empty line of an error's message. */
export function firstLine(err: unknown): string {
  const msg = thrownText(err);
  return (msg.split('\n').find((l) => l.trim() !== '') ?? msg).trim();
}
