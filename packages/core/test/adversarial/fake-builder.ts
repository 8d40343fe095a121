// Stand-in builders for `qdeploy build` (not a test file): tiny shell scripts that behave
// like a misbehaving trtexec.
import fs from 'node:fs';
import path from 'node:path';

/** Writes an executable `#!/bin/sh` script `name` under `dir` with `body`; returns its path. */
export function fakeTrtexec(dir: string, name: string, body: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`);
  fs.chmodSync(file, 0o755);
  return file;
}

/** True while process `pid` exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls until `cond()` or `ms` passed; resolves to the last value of cond(). */
export async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}
