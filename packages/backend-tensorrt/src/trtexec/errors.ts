/**
 * Errors raised by the trtexec wrapper. Every one of them carries a message a user can act
 * on without reading the source: what went wrong, and what to change.
 */

/** Base class: `instanceof TrtexecError` catches every failure of this module. */
export class TrtexecError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The options cannot produce a valid trtexec command (refused before anything is launched). */
export class TrtexecUsageError extends TrtexecError {
  /** Marks bad input for the qdeploy CLI (exit 2). */
  readonly badInput = true;
}

/** No usable trtexec executable was found. `searched` lists every place that was tried. */
export class TrtexecNotFoundError extends TrtexecError {
  /** Marks bad input (setup) for the qdeploy CLI (exit 2). */
  readonly badInput = true;
  readonly searched: readonly string[];
  constructor(message: string, searched: readonly string[], options?: { cause?: unknown }) {
    super(message, options);
    this.searched = searched;
  }
}

/** Details shared by the errors raised after trtexec was started. */
export interface TrtexecProcessDetails {
  readonly args: readonly string[];
  readonly command: string;
  /** The whole log (stdout and stderr interleaved, in arrival order). */
  readonly log: string;
  /** The last lines of the log (at most 30). */
  readonly tail: readonly string[];
}

/** trtexec exited with a non-zero code, was killed by a signal (crash), or reported FAILED. */
export class TrtexecFailedError extends TrtexecError implements TrtexecProcessDetails {
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  /** The `[E]` / `[F]` lines of the log, prefix stripped. */
  readonly errors: readonly string[];
  readonly args: readonly string[];
  readonly command: string;
  readonly log: string;
  readonly tail: readonly string[];
  constructor(
    message: string,
    details: TrtexecProcessDetails & {
      exitCode: number | undefined;
      signal: string | undefined;
      errors: readonly string[];
    },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.exitCode = details.exitCode;
    this.signal = details.signal;
    this.errors = details.errors;
    this.args = details.args;
    this.command = details.command;
    this.log = details.log;
    this.tail = details.tail;
  }
}

/** trtexec ran longer than `timeoutMs` and was killed. */
export class TrtexecTimeoutError extends TrtexecError implements TrtexecProcessDetails {
  readonly timeoutMs: number;
  readonly args: readonly string[];
  readonly command: string;
  readonly log: string;
  readonly tail: readonly string[];
  constructor(message: string, details: TrtexecProcessDetails & { timeoutMs: number }) {
    super(message);
    this.timeoutMs = details.timeoutMs;
    this.args = details.args;
    this.command = details.command;
    this.log = details.log;
    this.tail = details.tail;
  }
}

/** The run was cancelled through its AbortSignal (the process, if started, was killed). */
export class TrtexecCancelledError extends TrtexecError {
  readonly args: readonly string[] | undefined;
  readonly log: string;
  constructor(message: string, details: { args?: readonly string[]; log?: string; cause?: unknown } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.args = details.args;
    this.log = details.log ?? '';
  }
}
