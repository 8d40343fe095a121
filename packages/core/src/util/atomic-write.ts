import * as fs from 'node:fs';
import * as path from 'node:path';

/** Temporary files being written right now; removed if the process is interrupted. */
const pending = new Set<string>();

export interface AtomicWriteOptions {
  /** Paths that must never be overwritten (e.g. the input model). */
  protect?: string[];
}

/**
 * Writes `target` via a temporary file in the same folder and a rename, so readers never
 * see a half-written file and a failure leaves the old file (if any) untouched.
 */
export async function writeFileAtomic(
  target: string,
  data: Uint8Array | string | ((tmpPath: string) => Promise<void> | void),
  options: AtomicWriteOptions = {},
): Promise<void> {
  const abs = path.resolve(target);
  for (const p of options.protect ?? []) {
    if (samePath(p, abs)) throw new Error(`refusing to write ${abs}: it is an input file`);
  }
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  pending.add(tmp);
  try {
    if (typeof data === 'function') await data(tmp);
    else await fs.promises.writeFile(tmp, data);
    await fs.promises.rename(tmp, abs);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  } finally {
    pending.delete(tmp);
  }
}

function samePath(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return fs.realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  return real(a) === real(b);
}

/** Removes every temporary file still being written (called on SIGINT/SIGTERM). */
export function removePendingTempFiles(): void {
  for (const tmp of pending) fs.rmSync(tmp, { force: true });
  pending.clear();
}
