/**
 * Runs the builder in its own process group and ends the whole group, not just the
 * process we started: trtexec is often launched through a wrapper script whose child
 * would otherwise outlive a timeout, a cancel or our own exit (an orphan holding the GPU,
 * or holding stdout open so the build never returns).
 */
import { spawn } from 'node:child_process';

export interface GroupRunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Grace between SIGTERM and SIGKILL. */
  forceKillAfterMs: number;
  onStdout(chunk: string): void;
  onStderr(chunk: string): void;
}

export interface GroupRunResult {
  exitCode: number | undefined;
  signal: NodeJS.Signals | undefined;
  timedOut: boolean;
  cancelled: boolean;
  /** Set when the process could not be started (ENOENT, EACCES, ...). */
  spawnError?: NodeJS.ErrnoException;
}

/** After the builder exits, how long its output pipes may stay open (held by a leftover child). */
const STDIO_GRACE_MS = 2_000;
/** At our own exit, how long the groups get between SIGTERM and SIGKILL. */
const EXIT_GRACE_MS = 1_000;

const groups = process.platform !== 'win32';
/** Process-group ids (= leader pids) still running. */
const live = new Set<number>();
let hooked = false;

function signalGroup(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(groups ? -pid : pid, sig);
    return true;
  } catch {
    return false;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Ends every live group now, synchronously: SIGTERM, a short wait, SIGKILL for what is left. */
export function killAllGroups(): void {
  const pids = [...live];
  for (const pid of pids) signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + EXIT_GRACE_MS;
  while (pids.some((p) => signalGroup(p, 0)) && Date.now() < deadline) sleepSync(20);
  for (const pid of pids) signalGroup(pid, 'SIGKILL');
  live.clear();
}

function onSignal(sig: NodeJS.Signals): void {
  killAllGroups();
  // Our listener replaced the default action; with nobody else handling the signal, end
  // the process the way the signal would have.
  if (process.listenerCount(sig) <= 1) {
    unhook();
    process.kill(process.pid, sig);
  }
}
const onSigint = () => onSignal('SIGINT');
const onSigterm = () => onSignal('SIGTERM');

function hook(): void {
  if (hooked) return;
  hooked = true;
  // The CLI's own handlers call process.exit(): the 'exit' hook covers that path.
  process.on('exit', killAllGroups);
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
}

function unhook(): void {
  if (!hooked || live.size > 0) return;
  hooked = false;
  process.off('exit', killAllGroups);
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigterm);
}

/** Runs `file args` in a new process group; resolves when it has exited and its output is read. */
export function runInGroup(file: string, args: readonly string[], o: GroupRunOptions): Promise<GroupRunResult> {
  return new Promise((resolve) => {
    const result: GroupRunResult = { exitCode: undefined, signal: undefined, timedOut: false, cancelled: false };
    const child = spawn(file, [...args], {
      cwd: o.cwd,
      env: o.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: groups,
      windowsHide: true,
    });
    const pid = child.pid;
    if (pid !== undefined) {
      live.add(pid);
      hook();
    }
    const timers: NodeJS.Timeout[] = [];
    let terminating = false;
    const terminate = () => {
      if (terminating || pid === undefined) return;
      terminating = true;
      signalGroup(pid, 'SIGTERM');
      timers.push(setTimeout(() => signalGroup(pid, 'SIGKILL'), o.forceKillAfterMs));
    };
    if (o.timeoutMs !== undefined) {
      timers.push(
        setTimeout(() => {
          result.timedOut = true;
          terminate();
        }, o.timeoutMs),
      );
    }
    const onAbort = () => {
      result.cancelled = true;
      terminate();
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });

    let open = 2;
    let exited = false;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      o.signal?.removeEventListener('abort', onAbort);
      if (pid !== undefined) {
        // Whatever the builder left running in its group goes with it.
        signalGroup(pid, 'SIGKILL');
        live.delete(pid);
      }
      child.stdout?.destroy();
      child.stderr?.destroy();
      unhook();
      resolve(result);
    };
    const streamClosed = () => {
      open--;
      if (open === 0 && exited) finish();
    };
    child.stdout!.setEncoding('utf8').on('data', o.onStdout).on('close', streamClosed);
    child.stderr!.setEncoding('utf8').on('data', o.onStderr).on('close', streamClosed);
    child.on('error', (err: NodeJS.ErrnoException) => {
      // After a successful start, 'error' only reports a failed kill: the exit event still comes.
      if (pid === undefined) {
        result.spawnError = err;
        exited = true;
        finish();
      }
    });
    child.on('exit', (code, sig) => {
      exited = true;
      result.exitCode = code ?? undefined;
      result.signal = sig ?? undefined;
      if (open === 0) finish();
      else timers.push(setTimeout(finish, STDIO_GRACE_MS));
    });
  });
}
