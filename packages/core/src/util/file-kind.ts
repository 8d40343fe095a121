/**
 * Opening a user's file must never block: `open()` on a FIFO waits for a writer, and a
 * read from a character device may never end, in a call no signal interrupts. Inputs are
 * opened with O_NONBLOCK (which does not block on a FIFO and changes nothing for a
 * regular file) and checked with fstat before any read.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';

/** What a non-regular file is, in words ("a FIFO (named pipe)", ...); null for a regular file. */
export function nonRegularKind(st: fs.Stats): string | null {
  if (st.isFile()) return null;
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Thrown by openRegularSync: `kind` is what the path is instead of a regular file. */
export class NotRegularFileError extends Error {
  override readonly name = 'NotRegularFileError';
  constructor(readonly file: string, readonly kind: string) {
    super(`${file}: is ${kind}, not a regular file`);
  }
}

/**
 * Opens `file` for reading without blocking and returns the fd and its stats; throws
 * NotRegularFileError (fd closed) when it is not a regular file, or the errno error of open().
 */
export function openRegularSync(file: string): { fd: number; stat: fs.Stats } {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  const stat = fs.fstatSync(fd);
  const kind = nonRegularKind(stat);
  if (kind !== null) {
    fs.closeSync(fd);
    throw new NotRegularFileError(file, kind);
  }
  return { fd, stat };
}

/** Throws NotRegularFileError when `file` exists and is not a regular file (stat follows links). */
export function assertRegularIfExists(file: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return;
  }
  const kind = nonRegularKind(st);
  if (kind !== null) throw new NotRegularFileError(file, kind);
}

/** The bytes of `file`, opened without blocking; NotRegularFileError when it is not a regular file. */
export async function readRegularFile(file: string): Promise<Buffer> {
  const handle = await fsp.open(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  try {
    const kind = nonRegularKind(await handle.stat());
    if (kind !== null) throw new NotRegularFileError(file, kind);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}
