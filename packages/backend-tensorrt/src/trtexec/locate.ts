/**
 * Finds the trtexec executable: the explicit `trtexecPath` option, then `$TRTEXEC`, then every
 * directory of `$PATH`, then the well-known install locations (NVIDIA's TensorRT containers put
 * it at /usr/src/tensorrt/bin/trtexec, which is not on their PATH).
 *
 * An explicit setting (option or `$TRTEXEC`) that does not point to an executable file is an
 * error right away rather than silently replaced by another trtexec found later: a mistyped
 * path should not build with a different TensorRT version.
 */

import { constants as fsConstants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';

import { TrtexecNotFoundError } from './errors.js';

/** Where trtexec is looked for after PATH. */
export const WELL_KNOWN_TRTEXEC_PATHS: readonly string[] = ['/usr/src/tensorrt/bin/trtexec'];

export interface LocateTrtexecOptions {
  readonly trtexecPath?: string;
  /** Environment to read TRTEXEC and PATH from (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Relative paths are resolved against it (default `process.cwd()`). */
  readonly cwd?: string;
  /** Default `WELL_KNOWN_TRTEXEC_PATHS`. */
  readonly wellKnownPaths?: readonly string[];
}

const EXE_NAMES = process.platform === 'win32' ? ['trtexec.exe', 'trtexec'] : ['trtexec'];

async function problemWith(file: string): Promise<string | undefined> {
  try {
    const s = await stat(file);
    if (!s.isFile()) return 'not a file';
  } catch {
    return 'not found';
  }
  if (process.platform === 'win32') return undefined;
  try {
    await access(file, fsConstants.X_OK);
    return undefined;
  } catch {
    return 'not executable';
  }
}

/** First line of every not-found message: the CLI prints only that line without --verbose. */
const POINT_AT_IT =
  'set TRTEXEC=/path/to/trtexec, or the trtexecPath option (qdeploy build --set trtexecPath=/path/to/trtexec; "trtexecPath" under "build" in a config file), or add its folder to PATH';

const HOW_TO =
  'trtexec ships with TensorRT (in its bin/ folder; NVIDIA\'s TensorRT containers have it at /usr/src/tensorrt/bin/trtexec).';

/** Resolves the trtexec executable or throws `TrtexecNotFoundError` listing where it looked. */
export async function locateTrtexec(options: LocateTrtexecOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const searched: string[] = [];

  const explicit: Array<[string, string | undefined]> = [
    ['the trtexecPath option', options.trtexecPath],
    ['$TRTEXEC', env['TRTEXEC']],
  ];
  for (const [source, value] of explicit) {
    if (value === undefined || value === '') {
      searched.push(`${source} (not set)`);
      continue;
    }
    // A bare command name ("trtexec") is looked up on PATH below.
    if (!value.includes('/') && !value.includes(path.sep)) {
      if (value !== 'trtexec' && value !== 'trtexec.exe') {
        searched.push(`${source}: "${value}" (not a path)`);
        throw new TrtexecNotFoundError(
          `${source} is "${value}", which is neither a path nor "trtexec": ${POINT_AT_IT}.\n${HOW_TO}`,
          searched,
        );
      }
      break;
    }
    const file = path.resolve(cwd, value);
    const problem = await problemWith(file);
    if (problem === undefined) return file;
    searched.push(`${source}: ${file} (${problem})`);
    throw new TrtexecNotFoundError(
      `trtexec not found: ${source} points to ${file}, which is ${problem === 'not found' ? 'missing' : problem}: ${POINT_AT_IT}.\n` +
        `Looked at:\n  - ${searched.join('\n  - ')}\n${HOW_TO}`,
      searched,
    );
  }

  const pathVar = env['PATH'] ?? env['Path'] ?? '';
  const dirs = pathVar.split(path.delimiter).filter((d) => d.length > 0);
  if (dirs.length === 0) searched.push('$PATH (empty)');
  for (const dir of dirs) {
    for (const exe of EXE_NAMES) {
      const file = path.resolve(cwd, dir, exe);
      if ((await problemWith(file)) === undefined) return file;
    }
  }
  if (dirs.length > 0) searched.push(`$PATH (${dirs.join(path.delimiter)})`);

  for (const file of options.wellKnownPaths ?? WELL_KNOWN_TRTEXEC_PATHS) {
    const problem = await problemWith(file);
    if (problem === undefined) return file;
    searched.push(`${file} (${problem})`);
  }

  throw new TrtexecNotFoundError(
    `trtexec (TensorRT's command-line engine builder) was not found: ${POINT_AT_IT}.\nLooked at:\n  - ${searched.join('\n  - ')}\n${HOW_TO}`,
    searched,
  );
}
