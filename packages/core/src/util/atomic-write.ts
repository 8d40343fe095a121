/**
 * Atomic file output: write a temporary file in the target's folder, then rename it over
 * the target, so a crash or Ctrl-C never leaves a half-written model. Temporary files
 * still pending are removed on error, on SIGINT/SIGTERM and at exit. A write whose target
 * is one of the `protect`ed inputs (same path, symlink or hard link) is refused.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

export interface AtomicWriteOptions {
  /** Paths that must never be overwritten (the input model, the data file, ...). */
  protect?: readonly string[];
  /** File mode of a new file (default 0o666 minus umask). */
  mode?: number;
}

/** Writing would overwrite a protected input. */
export class ProtectedPathError extends Error {
  override readonly name = 'ProtectedPathError';
  readonly kind = 'protected-path' as const;
  readonly path: string;
  constructor(target: string, input: string, what = 'input') {
    super(`refusing to overwrite ${target}: it is the ${what} ${input}; choose another output path`);
    this.path = target;
  }
}

const pending = new Set<string>();
/** Targets completed (renamed into place) since `trackCommittedFiles()`; null: not tracked. */
let committed: string[] | null = null;
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
let installed = false;

function onSignal(signal: NodeJS.Signals): void {
  const othersListen = process.listenerCount(signal) > 1;
  drainTempFiles(); // also removes our listeners
  // Our listener replaced the default action; if nobody else handles the signal, re-raise
  // it without us so the process ends the way it would have (killed by the signal).
  if (!othersListen) process.kill(process.pid, signal);
}

function onExit(): void {
  drainTempFiles();
}

function install(): void {
  if (installed) return;
  installed = true;
  for (const s of SIGNALS) process.on(s, onSignal);
  process.on('exit', onExit);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  for (const s of SIGNALS) process.off(s, onSignal);
  process.off('exit', onExit);
}

/**
 * Registers a temporary file for removal on SIGINT/SIGTERM/exit; returns the function
 * that unregisters it (call it once the file is renamed or removed).
 */
export function registerTempFile(file: string): () => void {
  pending.add(file);
  install();
  return () => {
    pending.delete(file);
    if (pending.size === 0) uninstall();
  };
}

/** Temporary files currently registered. */
export function pendingTempFiles(): string[] {
  return [...pending];
}

/**
 * Starts recording the outputs this process finishes writing (the CLI does, for its
 * interrupt message; a long-running library user need not keep the list).
 */
export function trackCommittedFiles(): void {
  committed ??= [];
}

/**
 * Outputs finished (absolute paths) since `trackCommittedFiles()`. A signal that lands
 * after a rename leaves that output complete; the CLI says so instead of "no output".
 */
export function committedFiles(): string[] {
  return committed ? [...committed] : [];
}

/** Removes every registered temporary file now (synchronously); returns their paths. */
export function drainTempFiles(): string[] {
  const removed = [...pending];
  for (const file of removed) {
    try {
      fs.rmSync(file, { force: true });
    } catch {
      // best effort: we may be exiting
    }
  }
  pending.clear();
  uninstall();
  return removed;
}

/** Canonical path: realpath when it exists, else realpath(parent)/name. */
async function canonical(p: string): Promise<string> {
  const abs = path.resolve(p);
  try {
    return await fsp.realpath(abs);
  } catch {
    const dir = await fsp.realpath(path.dirname(abs)).catch(() => path.dirname(abs));
    return path.join(dir, path.basename(abs));
  }
}

/** True when `a` and `b` name the same file (path, symlink or hard link). */
export async function isSameFile(a: string, b: string): Promise<boolean> {
  if ((await canonical(a)) === (await canonical(b))) return true;
  const [sa, sb] = await Promise.all([fsp.stat(a).catch(() => undefined), fsp.stat(b).catch(() => undefined)]);
  return sa !== undefined && sb !== undefined && sa.dev === sb.dev && sa.ino === sb.ino;
}

/** Throws ProtectedPathError when `target` is one of `protect` (`what` names them in the message). */
export async function assertNotProtected(target: string, protect: readonly string[] = [], what?: string): Promise<void> {
  for (const input of protect) {
    if (await isSameFile(target, input)) throw new ProtectedPathError(target, input, what);
  }
}

/**
 * Writes `data` to `target` atomically. `data` may be the bytes/text, or a function that
 * writes the file at the temporary path it is given (for streamed output).
 */
export async function writeFileAtomic(
  target: string,
  data: string | Uint8Array | ((tmpPath: string) => Promise<void> | void),
  options: AtomicWriteOptions = {},
): Promise<void> {
  await assertNotProtected(target, options.protect);
  const abs = path.resolve(target);
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const unregister = registerTempFile(tmp);
  try {
    if (typeof data === 'function') {
      await data(tmp);
      const st = await fsp.stat(tmp).catch(() => undefined);
      if (!st?.isFile()) throw new Error(`writeFileAtomic(${target}): the writer did not create ${tmp}`);
    } else {
      const handle = await fsp.open(tmp, 'wx', options.mode);
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    // Synchronous on purpose: a signal handler cannot run between the rename and the
    // record of it, so an interrupt reports exactly what is on disk.
    fs.renameSync(tmp, abs);
    committed?.push(abs);
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw err;
  } finally {
    unregister();
  }
}
