/**
 * User code we await (a JS config, a plugin's register(), a data module) may return a
 * promise that never settles. Without a pending timer Node then exits silently with code
 * 13; with one, the run would hang. Each such await gets a deadline instead.
 */

/** Default deadline for loading user code: 60 s. */
export const DEFAULT_LOAD_TIMEOUT_S = 60;

/** The deadline in ms: `QDEPLOY_LOAD_TIMEOUT` (seconds) when set to a positive number, else 60 s. */
export function loadTimeoutMs(env: Record<string, string | undefined> = process.env): number {
  const s = Number(env.QDEPLOY_LOAD_TIMEOUT);
  return (Number.isFinite(s) && s > 0 ? s : DEFAULT_LOAD_TIMEOUT_S) * 1000;
}

/** `value` awaited, or `onTimeout()` thrown when it has not settled after `ms`. */
export async function settleWithin<T>(value: T | PromiseLike<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([Promise.resolve(value), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** "did not settle within 60 s" with the setting that changes it. */
export function timeoutText(ms: number): string {
  return `did not finish within ${ms / 1000} s (a promise that never settles?); set QDEPLOY_LOAD_TIMEOUT=<seconds> to wait longer`;
}
