/**
 * Atomic file output: write a temporary file in the target's folder, then rename it over
 * the target, so a crash or Ctrl-C never leaves a half-written model. Temporary files
 * still pending are removed on error, on SIGINT/SIGTERM and at exit; one a SIGKILL left
 * behind (`.<name>.qdeploy-<pid>-<hex>.tmp`, its process gone) is removed by the next
 * write of the same output. A write whose target is one of the `protect`ed inputs (same
 * path, symlink or hard link, or anything inside a protected folder) is refused, and so
 * is a target that is not a regular file (a device, a FIFO) or is read-only.
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
    super(`refusing to overwrite ${target}: it is ${what.startsWith('inside') ? what : `the ${what}`} ${input}; choose another output path`);
    this.path = target;
  }
}

/** The output path itself is unusable (a device, read-only, no writable folder): bad input. */
export class OutputPathError extends Error {
  override readonly name = 'OutputPathError';
  readonly path: string;
  constructor(target: string, reason: string) {
    super(`cannot write ${target}: ${reason}`);
    this.path = target;
  }
}

/** Writing the output failed part-way (disk full, I/O error): a failed run, the file is named. */
export class OutputWriteError extends Error {
  override readonly name = 'OutputWriteError';
  readonly path: string;
  constructor(target: string, err: unknown) {
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    const why = code && WRITE_ERRORS[code] ? `${WRITE_ERRORS[code]} (${code})` : (err as Error)?.message ?? String(err);
    super(`writing ${target} failed: ${why}; nothing was written there`, { cause: err });
    this.path = target;
  }
}

const WRITE_ERRORS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large for the file system or the process limit',
  EIO: 'input/output error',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
};

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

/** True when `file` (canonical) is `dir` or inside it (canonical). */
function isInside(file: string, dir: string): boolean {
  return file === dir || file.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);
}

/** True when some regular file under `dir` is the file with stats `st` (a hard link to it). */
async function linkedInside(dir: string, st: fs.Stats): Promise<boolean> {
  const stack = [dir];
  let seen = 0;
  while (stack.length > 0 && seen < 200_000) {
    const d = stack.pop()!;
    const entries = await fsp.readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      seen++;
      const p = path.join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) {
        const s = await fsp.stat(p).catch(() => undefined);
        if (s && s.dev === st.dev && s.ino === st.ino) return true;
      }
    }
  }
  return false;
}

/**
 * True when writing `target` would change input `input`: the same file (path, symlink,
 * hard link), or, for a folder input (a calibration folder), any file inside it.
 */
export async function wouldOverwrite(target: string, input: string): Promise<boolean> {
  const st = await fsp.stat(input).catch(() => undefined);
  if (!st?.isDirectory()) return isSameFile(target, input);
  const dir = await canonical(input);
  if (isInside(await canonical(target), dir)) return true;
  const ts = await fsp.stat(target).catch(() => undefined);
  return ts !== undefined && ts.isFile() && ts.nlink > 1 && (await linkedInside(dir, ts));
}

/** Throws ProtectedPathError when `target` is one of `protect` or inside a protected folder (`what` names them in the message). */
export async function assertNotProtected(target: string, protect: readonly string[] = [], what?: string): Promise<void> {
  for (const input of protect) {
    if (await wouldOverwrite(target, input)) {
      const isDir = (await fsp.stat(input).catch(() => undefined))?.isDirectory() ?? false;
      throw new ProtectedPathError(target, input, isDir ? `inside the input folder` : what);
    }
  }
}

/**
 * Checks that `target` can be written before any work: an existing target must be a
 * regular file (never replace a device node or a FIFO) that is writable; the nearest
 * existing folder on its path must be a folder we may write in. Throws OutputPathError.
 */
export async function checkOutputTarget(target: string): Promise<void> {
  const abs = path.resolve(target);
  const st = await fsp.stat(abs).catch(() => undefined);
  if (st) {
    if (st.isDirectory()) throw new OutputPathError(abs, 'it is a folder; give a file name');
    if (!st.isFile()) throw new OutputPathError(abs, `it is ${describeKind(st)}, not a regular file; qdeploy never replaces one`);
    if ((st.mode & 0o222) === 0) throw new OutputPathError(abs, 'the file is read-only; remove it or make it writable first');
  }
  let dir = path.dirname(abs);
  for (;;) {
    const ds = await fsp.stat(dir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' || err.code === 'ENOTDIR' ? undefined : err));
    if (ds instanceof Error) throw new OutputPathError(abs, `its folder ${dir} cannot be used (${ds.code ?? ds.message})`);
    if (ds) {
      if (!ds.isDirectory()) throw new OutputPathError(abs, `${dir} is not a folder`);
      try {
        await fsp.access(dir, fs.constants.W_OK | fs.constants.X_OK);
      } catch (err) {
        throw new OutputPathError(abs, `the folder ${dir} is not writable (${(err as NodeJS.ErrnoException).code ?? 'EACCES'})`);
      }
      return;
    }
    const up = path.dirname(dir);
    if (up === dir) return;
    dir = up;
  }
}

function describeKind(st: fs.Stats): string {
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'a special file';
}

const TEMP_TAG = 'qdeploy';

/** `.model.onnx.qdeploy-<pid>-<hex>.tmp` beside the target. */
function tempPathFor(abs: string): string {
  return path.join(path.dirname(abs), `.${path.basename(abs)}.${TEMP_TAG}-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files of `target` that a killed run left (SIGKILL cannot be
 * caught): ours by name, and their process is gone. Returns what it removed.
 */
export async function removeStaleTempFiles(target: string): Promise<string[]> {
  const abs = path.resolve(target);
  const base = path.basename(abs).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`^\\.${base}\\.(?:${TEMP_TAG}-(\\d+)-|(\\d+)\\.)[0-9a-f]{8}\\.tmp$`);
  const names = await fsp.readdir(path.dirname(abs)).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    const m = re.exec(name);
    if (!m) continue;
    const pid = Number(m[1] ?? m[2]);
    if (pid === process.pid || processAlive(pid)) continue;
    const file = path.join(path.dirname(abs), name);
    const st = await fsp.lstat(file).catch(() => undefined);
    if (!st?.isFile()) continue;
    await fsp.rm(file, { force: true }).catch(() => {});
    removed.push(file);
  }
  return removed;
}

/**
 * Test hook (fault injection): with QDEPLOY_FAULT_PAUSE_AFTER_RENAME_MS set, block that
 * long right after an output is renamed into place, without running the event loop, so a
 * test can land a signal in that window.
 */
function pauseAfterRename(): void {
  const ms = Number(process.env.QDEPLOY_FAULT_PAUSE_AFTER_RENAME_MS);
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
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
  await checkOutputTarget(abs);
  await removeStaleTempFiles(abs);
  const tmp = tempPathFor(abs);
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
    pauseAfterRename();
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => {});
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    if (code !== undefined && code in WRITE_ERRORS) throw new OutputWriteError(abs, err);
    throw err;
  } finally {
    unregister();
  }
}
