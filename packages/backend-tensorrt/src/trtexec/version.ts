import { spawn } from 'node:child_process';
import { locateTrtexec } from './locate.js';
import type { BuildOptions } from './options.js';
import { decodeTensorRtVersion } from './parse-output.js';

/**
 * The TensorRT version of the trtexec a build would run, read from its banner
 * (`&&&& RUNNING TensorRT.trtexec [TensorRT v100900] …`, printed for any arguments, even
 * on a usage error) by running `trtexec --help`. Undefined when no banner comes within
 * `timeoutMs`. It runs in its own process group, ended as soon as the banner is read, so a
 * wrapper script that waits on a child cannot keep it alive. (`build` does not call it: it
 * reads the version from the build's own output.)
 */
export async function detectTrtVersion(options: Pick<BuildOptions, 'trtexecPath' | 'env' | 'cwd'> & { timeoutMs?: number } = {}): Promise<string | undefined> {
  const env = { ...process.env, ...(options.env ?? {}) };
  const trtexecPath = await locateTrtexec({ env, ...(options.trtexecPath !== undefined ? { trtexecPath: options.trtexecPath } : {}), ...(options.cwd !== undefined ? { cwd: options.cwd } : {}) });
  // The probe must not write anything the real run reads (the stand-in records its argv).
  const { FAKE_TRTEXEC_ARGS_OUT: _ignored, ...probeEnv } = env;
  const child = spawn(trtexecPath, ['--help'], { env: probeEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'], ...(options.cwd ? { cwd: options.cwd } : {}) });
  return new Promise((resolve) => {
    let text = '';
    let settled = false;
    const finish = (v: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      resolve(v);
    };
    const read = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const m = /\[TensorRT (v\d{4,})\]/.exec(text);
      if (m) finish(decodeTensorRtVersion(m[1]!));
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.on('error', () => finish(undefined));
    child.on('exit', () => setTimeout(() => finish(undefined), 50));
    const timer = setTimeout(() => finish(undefined), options.timeoutMs ?? 10_000);
  });
}
