/**
 * Progress reporting for long loops (calibration, evaluation). On a terminal: a
 * cli-progress bar with batches done, samples/s and ETA. In logs (stream not a TTY, CI
 * set, TERM=dumb): a plain line every `intervalMs` and a summary at the end, no control
 * codes. QDEPLOY_NO_PROGRESS=1: nothing at all.
 */
import cliProgress from 'cli-progress';

export type ProgressMode = 'bar' | 'lines' | 'off';
export type ProgressUnit = 'batch' | 'sample';

export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  label: string;
  /** Expected total in `unit`s; without it no bar/ETA is shown. */
  total?: number;
  /** What `total` and the displayed count are measured in. */
  unit: ProgressUnit;
  /** Default process.stderr. */
  stream?: ProgressStream;
  /** Default process.env (read for QDEPLOY_NO_PROGRESS, CI, TERM). */
  env?: Record<string, string | undefined>;
  /** Force a mode instead of detecting it. */
  mode?: ProgressMode;
  /** Lines mode: minimum time between lines (default 10 s). */
  intervalMs?: number;
  /** Clock in ms (tests). */
  now?: () => number;
}

export interface Progress {
  readonly mode: ProgressMode;
  /** One batch done, holding `samples` samples (default 1). */
  tick(samples?: number): void;
  /**
   * Ends the display (prints the summary line in lines mode). Idempotent. `completed:
   * false` (the loop failed) prints no summary: the error says what happened.
   */
  stop(completed?: boolean): void;
}

function truthy(v: string | undefined): boolean {
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

/** How progress would be shown on `stream` under `env`. */
export function detectProgressMode(stream: ProgressStream, env: Record<string, string | undefined>): ProgressMode {
  if (truthy(env.QDEPLOY_NO_PROGRESS)) return 'off';
  if (!stream.isTTY || truthy(env.CI) || env.TERM === 'dumb') return 'lines';
  return 'bar';
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function formatRate(rate: number): string {
  if (!Number.isFinite(rate)) return '?';
  return rate < 10 ? rate.toFixed(1) : String(Math.round(rate));
}

function plural(n: number, unit: ProgressUnit): string {
  return `${n} ${unit === 'batch' ? (n === 1 ? 'batch' : 'batches') : n === 1 ? 'sample' : 'samples'}`;
}

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const env = options.env ?? process.env;
  const now = options.now ?? (() => Date.now());
  const mode = options.mode ?? detectProgressMode(stream, env);
  const { label, unit, total } = options;
  const unitPlural = unit === 'batch' ? 'batches' : 'samples';
  const intervalMs = options.intervalMs ?? 10_000;
  const start = now();
  let batches = 0;
  let samples = 0;
  let stopped = false;

  const value = (): number => (unit === 'batch' ? batches : samples);
  const stats = (): { elapsed: number; rate: number; eta: string } => {
    const elapsed = (now() - start) / 1000;
    const rate = elapsed > 0 ? samples / elapsed : NaN;
    const v = value();
    const eta = total !== undefined && v > 0 && elapsed > 0 ? formatDuration(((total - v) * elapsed) / v) : '?';
    return { elapsed, rate, eta };
  };

  if (mode === 'off') {
    return { mode, tick() {}, stop() {} };
  }

  if (mode === 'lines') {
    let last = start;
    const line = (): string => {
      const v = value();
      const { rate, eta } = stats();
      const count = total !== undefined ? `${v}/${total} ${unitPlural}` : plural(v, unit);
      const extra = unit === 'batch' ? ` (${plural(samples, 'sample')})` : '';
      return `${label}: ${count}${extra}, ${formatRate(rate)} samples/s${total !== undefined ? `, ETA ${eta}` : ''}\n`;
    };
    return {
      mode,
      tick(n = 1) {
        if (stopped) return;
        batches++;
        samples += n;
        const t = now();
        if (t - last >= intervalMs) {
          last = t;
          stream.write(line());
        }
      },
      stop(completed = true) {
        if (stopped) return;
        stopped = true;
        if (!completed) return;
        const { elapsed, rate } = stats();
        stream.write(`${label}: done, ${plural(batches, 'batch')}, ${plural(samples, 'sample')} in ${formatDuration(elapsed)} (${formatRate(rate)} samples/s)\n`);
      },
    };
  }

  const format =
    total !== undefined
      ? `${label} [{bar}] {value}/{total} ${unitPlural} | {speed} samples/s | ETA {remaining}`
      : `${label} {value} ${unitPlural} | {speed} samples/s`;
  const bar = new cliProgress.SingleBar({
    stream: stream as NodeJS.WritableStream,
    format,
    barsize: 30,
    hideCursor: false,
    clearOnComplete: false,
    stopOnComplete: false,
    linewrap: false,
    fps: 10,
    barCompleteChar: '\u2588',
    barIncompleteChar: '\u2591',
  });
  bar.start(total ?? 0, 0, { speed: '?', remaining: '?' });
  return {
    mode,
    tick(n = 1) {
      if (stopped) return;
      batches++;
      samples += n;
      const { rate, eta } = stats();
      bar.update(value(), { speed: formatRate(rate), remaining: eta });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
