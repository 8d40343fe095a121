/**
 * How the CLI classifies failures: exit 2 for the user's input (bad usage, unreadable or
 * invalid model, bad data, bad config, missing plugin, output over input), exit 1 for a
 * run that failed on valid input. Messages are one line `qdeploy: <message>`; --verbose
 * adds the stack and causes.
 */
import { isConfigError } from '../config/errors.js';
import { isDataError } from '../calibrate/data/errors.js';
import { firstLine, isPluginError } from '../plugins/errors.js';
import { printableName, printableText } from '../util/printable.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_SIGINT = 130;
export const EXIT_SIGTERM = 143;

/** Bad usage or bad input that is not one of core's typed errors. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A model file onnxruntime refuses (decodes as ONNX but is not a valid model). */
export class ModelInputError extends Error {
  override readonly name = 'ModelInputError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
  }
}

const INPUT_ERROR_NAMES = new Set(['UsageError', 'ModelInputError', 'OnnxFormatError', 'ProtectedPathError', 'OutputPathError', 'NotRegularFileError']);

/** True when `err` means "your input is wrong" (exit 2). */
export function isInputError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (INPUT_ERROR_NAMES.has(err.name)) return true;
  if (isDataError(err) || isConfigError(err) || isPluginError(err)) return true;
  // Plugins cannot share core's error classes; they mark bad input with `badInput: true`.
  if ((err as { badInput?: unknown }).badInput === true) return true;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('commander.');
}

export function exitCodeFor(err: unknown): number {
  return isInputError(err) ? EXIT_USAGE : EXIT_FAILED;
}

function causeChain(err: unknown): string[] {
  const out: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur instanceof Error && depth < 5; depth++) {
    out.push(depth === 0 ? cur.stack ?? String(cur) : `caused by: ${cur.stack ?? String(cur)}`);
    cur = cur.cause;
  }
  if (cur !== undefined && !(cur instanceof Error)) out.push(`caused by: ${String(cur)}`);
  return out;
}

// Errors about the user's input are one line by design: a newline in one comes from a name
// in a hostile model, and must not cut the line. (Others, e.g. a builder's failure, add
// the log below their first line; the first line is printed.)
const ONE_LINE_ERRORS = new Set(['UsageError', 'ModelInputError', 'OnnxFormatError', 'ProtectedPathError', 'OutputPathError', 'OutputWriteError', 'NotRegularFileError', 'DataError', 'PluginError']);

function oneLineByDesign(err: unknown): boolean {
  return err instanceof Error && ONE_LINE_ERRORS.has(err.name) && typeof err.message === 'string';
}

/** The lines to print for an error: one `qdeploy: ...` line (one per config issue); the stack with verbose. */
export function errorLines(err: unknown, verbose = false): string[] {
  const lines = isConfigError(err)
    ? err.issues.map((l) => `qdeploy: ${printableName(l)}`)
    : [`qdeploy: ${oneLineByDesign(err) ? printableName((err as Error).message.trim()) : printableText(firstLine(err) || 'unknown error')}`];
  if (verbose) lines.push(...causeChain(err).map(printableText));
  else if (exitCodeFor(err) === EXIT_FAILED) lines[lines.length - 1] += ' (run with --verbose for details)';
  return lines;
}

/** The JSON object a `--json` command prints on stdout when it fails. */
export function errorJson(err: unknown, exitCode = exitCodeFor(err)): { error: { message: string; messages?: string[]; name: string; kind?: string; code?: string; exitCode: number } } {
  const e = err as { name?: unknown; kind?: unknown; code?: unknown } | undefined;
  const messages = isConfigError(err) ? err.issues : undefined;
  const message = (messages ? messages.join('; ') : firstLine(err) || String(err)).replace(/^error: /, '');
  return {
    error: {
      message,
      ...(messages ? { messages } : {}),
      name: err instanceof Error ? err.name : typeof e?.name === 'string' ? e.name : 'Error',
      ...(typeof e?.kind === 'string' ? { kind: e.kind } : {}),
      ...(typeof e?.code === 'string' ? { code: e.code } : {}),
      exitCode,
    },
  };
}
