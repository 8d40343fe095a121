/**
 * Parses trtexec's console output (TensorRT 8.x and 10.x).
 *
 * Lines look like `[07/02/2026-03:47:08] [I] Throughput: 18392 qps`; the timestamp and the
 * severity tag are optional (logs pasted into issues often lose them). Recognised:
 *
 * - version: `&&&& RUNNING TensorRT.trtexec [TensorRT v100900] [b72] # trtexec …` (v100900 →
 *   10.9.0, v8601 → 8.6.1, v8611 → 8.6.11) and `TensorRT version: 10.9.0`;
 * - the performance summary: `Throughput: X qps`, and `Latency`, `End-to-End Host Latency`
 *   (8.x up to 8.5), `Enqueue Time`, `H2D Latency`, `GPU Compute Time`, `D2H Latency` as
 *   `min = … ms, max = … ms, mean = … ms, median = … ms, percentile(P%) = … ms` (TensorRT 10
 *   and 8.6 print 90/95/99, older 8.x only 99), `Total Host Walltime: X s`,
 *   `Total GPU Compute Time: X s`;
 * - build: `Engine built in X sec.` (the period is absent in some versions),
 *   `[TRT] Engine generation completed in X seconds.`, `Created engine with size: X MiB`;
 * - `[W]` warnings, with the two performance warnings recognised: unstable GPU time
 *   (`* GPU compute time is unstable, with coefficient of variance = X%.`) and enqueue-bound
 *   (`* Throughput may be bound by Enqueue Time rather than GPU Compute …`);
 * - `[E]` (and `[F]`) errors;
 * - the verdict: `&&&& PASSED TensorRT.trtexec [TensorRT v…] # <command>` / `&&&& FAILED …`.
 *
 * If a log holds several performance summaries, the last one wins.
 */

/** Timing statistics of one metric, in milliseconds. */
export interface LatencyStats {
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly median: number;
  /** percent → ms, e.g. `{ 90: 1.45, 95: 1.71, 99: 2.61 }` (8.x up to 8.5: `{ 99: … }` only). */
  readonly percentiles: Readonly<Record<number, number>>;
}

export type VerdictStatus = 'RUNNING' | 'PASSED' | 'FAILED' | 'WAIVED';

export interface TrtexecVerdict {
  readonly status: VerdictStatus;
  /** `TensorRT.trtexec`. */
  readonly test: string;
  /** `100900` from `[TensorRT v100900]`. */
  readonly versionCode?: string;
  /** The command after `# `. */
  readonly command?: string;
  readonly line: string;
}

export interface TrtexecSummary {
  /** "10.9.0" (from `TensorRT version:` or the `[TensorRT v…]` tag). */
  readonly tensorrtVersion?: string;
  /** The raw tag code, e.g. "100900". */
  readonly tensorrtVersionCode?: string;
  /** `Selected Device: NVIDIA L4`. */
  readonly device?: string;
  /** The `Precision:` line of the option dump, e.g. "FP32+FP16+INT8". */
  readonly precision?: string;
  readonly throughputQps?: number;
  readonly latency?: LatencyStats;
  readonly endToEndHostLatency?: LatencyStats;
  readonly enqueueTime?: LatencyStats;
  readonly h2dLatency?: LatencyStats;
  readonly gpuComputeTime?: LatencyStats;
  readonly d2hLatency?: LatencyStats;
  /** Seconds. */
  readonly totalHostWalltimeS?: number;
  /** Seconds. */
  readonly totalGpuComputeTimeS?: number;
  /** `Timing trace has N queries over X s`. */
  readonly queries?: number;
  /** Seconds, from `Engine built in X sec.` (the whole build as trtexec times it). */
  readonly engineBuildTimeS?: number;
  /** Seconds, from the builder's `Engine generation completed in X seconds.` (TensorRT 10). */
  readonly engineGenerationTimeS?: number;
  /** Seconds, from `Engine deserialized in X sec.`. */
  readonly engineDeserializeTimeS?: number;
  /** MiB, from `Created engine with size: X MiB`. */
  readonly engineSizeMiB?: number;
  /** True when trtexec said it skipped the inference phase. */
  readonly inferenceSkipped: boolean;
  /** `[W]` lines, timestamp and tag stripped (the message may itself start with `[TRT] `). */
  readonly warnings: readonly string[];
  /** `[E]` / `[F]` lines, timestamp and tag stripped. */
  readonly errors: readonly string[];
  /** Set when trtexec warned that GPU compute time is unstable. */
  readonly unstable?: { readonly coefficientOfVariancePct: number };
  /** trtexec warned that throughput may be bound by enqueue time (GPU under-utilised). */
  readonly enqueueBound: boolean;
  /** The last `&&&&` line (PASSED / FAILED; RUNNING when the run did not finish). */
  readonly verdict?: TrtexecVerdict;
  /** true for PASSED, false for FAILED, undefined when no final verdict was printed. */
  readonly passed?: boolean;
}

/** One log line split into its parts. */
export interface LogLine {
  readonly timestamp?: string;
  /** I, W, E, V or F; undefined for untagged lines. */
  readonly severity?: string;
  readonly message: string;
}

const PREFIX = /^\s*(?:\[(\d{2}\/\d{2}\/\d{4}-\d{2}:\d{2}:\d{2})\]\s*)?(?:\[([IWEVF])\](?: |$))?(.*)$/;

/** Splits `[11/26/2026-10:00:00] [I] message` into timestamp, severity and message. */
export function splitLogLine(line: string): LogLine {
  const m = PREFIX.exec(line.replace(/\r$/, ''));
  if (!m) return { message: line };
  const out: { timestamp?: string; severity?: string; message: string } = { message: m[3] ?? '' };
  if (m[1] !== undefined) out.timestamp = m[1];
  if (m[2] !== undefined) out.severity = m[2];
  return out;
}

/**
 * `[TensorRT vNNNN]` code → version: the last two digits are the patch, the two before the
 * minor, the rest the major (100900 → 10.9.0, 101600 → 10.16.0); four-digit 8.x codes are
 * major, minor, two-digit patch (8601 → 8.6.1, 8611 → 8.6.11, 8510 → 8.5.10).
 */
export function decodeTensorRtVersion(code: string): string | undefined {
  const digits = code.replace(/^v/, '');
  if (!/^\d{4,}$/.test(digits)) return undefined;
  if (digits.length === 4) {
    return `${Number(digits[0])}.${Number(digits[1])}.${Number(digits.slice(2))}`;
  }
  const major = digits.slice(0, -4);
  const minor = digits.slice(-4, -2);
  const patch = digits.slice(-2);
  return `${Number(major)}.${Number(minor)}.${Number(patch)}`;
}

const NUMBER = String.raw`[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?`;
const STAT_ITEM = new RegExp(String.raw`(min|max|mean|median|percentile\((${NUMBER})%\))\s*=\s*(${NUMBER}|-?nan|-?inf)\s*ms`, 'g');

/** Parses `min = 1 ms, max = 2 ms, mean = …, median = …, percentile(99%) = … ms`. */
export function parseStats(text: string): LatencyStats | undefined {
  let min: number | undefined;
  let max: number | undefined;
  let mean: number | undefined;
  let median: number | undefined;
  const percentiles: Record<number, number> = {};
  for (const m of text.matchAll(STAT_ITEM)) {
    const value = Number(m[3]);
    const key = m[1]!;
    if (key === 'min') min = value;
    else if (key === 'max') max = value;
    else if (key === 'mean') mean = value;
    else if (key === 'median') median = value;
    else percentiles[Number(m[2])] = value;
  }
  if (min === undefined || max === undefined || mean === undefined || median === undefined) return undefined;
  return { min, max, mean, median, percentiles };
}

const STAT_LINES: ReadonlyArray<[string, keyof TrtexecSummary]> = [
  ['Latency', 'latency'],
  ['End-to-End Host Latency', 'endToEndHostLatency'],
  ['Enqueue Time', 'enqueueTime'],
  ['H2D Latency', 'h2dLatency'],
  ['GPU Compute Time', 'gpuComputeTime'],
  ['D2H Latency', 'd2hLatency'],
];

const VERDICT = /^&&&& (RUNNING|PASSED|FAILED|WAIVED) (\S+)(.*?)(?: # (.*))?$/;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Longest line the parser looks at: a longer one is cut (no real trtexec line comes close). */
export const MAX_PARSED_LINE = 16 * 1024;
/** At most this many `[W]` and `[E]` lines are kept each (a runaway log cannot grow memory). */
export const MAX_LOG_MESSAGES = 1000;

/**
 * Parses trtexec's log line by line, in constant memory per line: feed it lines as they
 * arrive with `push`, read the result with `summary()`.
 */
export class TrtexecOutputParser {
  private readonly s: Mutable<TrtexecSummary> = { inferenceSkipped: false, warnings: [], errors: [], enqueueBound: false };
  private readonly warnings: string[] = [];
  private readonly errors: string[] = [];
  private versionFromLine: string | undefined;

  push(line: string): void {
    const raw = line.length > MAX_PARSED_LINE ? line.slice(0, MAX_PARSED_LINE) : line;
    const s = this.s;
    const warnings = this.warnings.length < MAX_LOG_MESSAGES ? this.warnings : [];
    const errors = this.errors.length < MAX_LOG_MESSAGES ? this.errors : [];
    const trimmed = raw.trim();
    if (trimmed.startsWith('&&&&')) {
      const m = VERDICT.exec(trimmed);
      if (m) {
        const rest = m[3] ?? '';
        const code = /\[TensorRT v(\d+)\]/.exec(rest)?.[1];
        const verdict: Mutable<TrtexecVerdict> = { status: m[1] as VerdictStatus, test: m[2]!, line: trimmed };
        if (code !== undefined) {
          verdict.versionCode = code;
          s.tensorrtVersionCode = code;
        }
        if (m[4] !== undefined) verdict.command = m[4];
        s.verdict = verdict;
      }
      return;
    }
    const { severity, message } = splitLogLine(raw);
    const msg = message.trim();
    if (severity === 'W') {
      warnings.push(msg);
      const unstable = /GPU compute time is unstable, with coefficient of variance = (\S+?)%/.exec(msg);
      if (unstable) s.unstable = { coefficientOfVariancePct: Number(unstable[1]) };
      if (/Throughput may be bound by Enqueue Time/.test(msg)) s.enqueueBound = true;
      return;
    }
    if (severity === 'E' || severity === 'F') {
      errors.push(msg);
      return;
    }
    if (msg.length === 0) return;

    let m: RegExpExecArray | null;
    if ((m = /^TensorRT version: (\d+(?:\.\d+)*)/.exec(msg))) {
      this.versionFromLine = m[1];
    } else if ((m = new RegExp(`^Throughput: (${NUMBER}) qps`).exec(msg))) {
      s.throughputQps = Number(m[1]);
    } else if ((m = new RegExp(`^Total Host Walltime: (${NUMBER}) s`).exec(msg))) {
      s.totalHostWalltimeS = Number(m[1]);
    } else if ((m = new RegExp(`^Total GPU Compute Time: (${NUMBER}) s`).exec(msg))) {
      s.totalGpuComputeTimeS = Number(m[1]);
    } else if ((m = new RegExp(`^Engine built in (${NUMBER}) sec`).exec(msg))) {
      s.engineBuildTimeS = Number(m[1]);
    } else if ((m = new RegExp(`^Engine deserialized in (${NUMBER}) sec`).exec(msg))) {
      s.engineDeserializeTimeS = Number(m[1]);
    } else if ((m = new RegExp(`^(?:\\[TRT\\] )?Engine generation completed in (${NUMBER}) seconds`).exec(msg))) {
      s.engineGenerationTimeS = Number(m[1]);
    } else if ((m = new RegExp(`^Created engine with size: (${NUMBER}) MiB`).exec(msg))) {
      s.engineSizeMiB = Number(m[1]);
    } else if ((m = /^Timing trace has (\d+) queries over/.exec(msg))) {
      s.queries = Number(m[1]);
    } else if ((m = /^Selected Device: (.+)$/.exec(msg))) {
      s.device = m[1]!.trim();
    } else if ((m = /^Precision: (\S.*)$/.exec(msg))) {
      s.precision = m[1]!.trim();
    } else if (/^Skipped inference phase/.test(msg)) {
      s.inferenceSkipped = true;
    } else {
      for (const [label, key] of STAT_LINES) {
        if (msg.startsWith(`${label}: `)) {
          const stats = parseStats(msg.slice(label.length + 2));
          if (stats) (s as Record<string, unknown>)[key] = stats;
          break;
        }
      }
    }
  }

  summary(): TrtexecSummary {
    const s: Mutable<TrtexecSummary> = { ...this.s, warnings: [...this.warnings], errors: [...this.errors] };
    const fromCode = s.tensorrtVersionCode === undefined ? undefined : decodeTensorRtVersion(s.tensorrtVersionCode);
    const version = this.versionFromLine ?? fromCode;
    if (version !== undefined) s.tensorrtVersion = version;
    if (s.verdict?.status === 'PASSED') s.passed = true;
    else if (s.verdict?.status === 'FAILED') s.passed = false;
    return s;
  }
}

/** Parses a whole trtexec log (stdout and stderr, any mix). */
export function parseTrtexecOutput(text: string): TrtexecSummary {
  const parser = new TrtexecOutputParser();
  for (const line of text.split(/\r?\n/)) parser.push(line);
  return parser.summary();
}
