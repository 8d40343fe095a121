import { execa } from 'execa';
import { locateTrtexec } from './locate.js';
import type { BuildOptions } from './options.js';
import { decodeTensorRtVersion } from './parse-output.js';

/**
 * The TensorRT version of the trtexec a build would run, read from its banner
 * (`&&&& RUNNING TensorRT.trtexec [TensorRT v100900] …`, printed for any arguments, even
 * on a usage error) by running `trtexec --help`. Undefined when the banner is missing.
 * `build` uses it to pick flag spellings and to refuse precision flags the installed
 * version does not have (TensorRT 11 removed --best / --fp16 / --int8).
 */
export async function detectTrtVersion(options: Pick<BuildOptions, 'trtexecPath' | 'env' | 'cwd'> = {}): Promise<string | undefined> {
  const env = { ...process.env, ...(options.env ?? {}) };
  const trtexecPath = await locateTrtexec({ env, ...(options.trtexecPath !== undefined ? { trtexecPath: options.trtexecPath } : {}), ...(options.cwd !== undefined ? { cwd: options.cwd } : {}) });
  // The probe must not write anything the real run reads (the stand-in records its argv).
  const { FAKE_TRTEXEC_ARGS_OUT: _ignored, ...probeEnv } = env;
  const r = await execa(trtexecPath, ['--help'], { reject: false, env: probeEnv, extendEnv: false, timeout: 60_000, stdin: 'ignore', ...(options.cwd ? { cwd: options.cwd } : {}) });
  const m = /\[TensorRT (v\d{4,})\]/.exec(`${String(r.stdout)}\n${String(r.stderr)}`);
  return m ? decodeTensorRtVersion(m[1]!) : undefined;
}
