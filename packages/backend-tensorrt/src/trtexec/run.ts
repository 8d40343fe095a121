/**
 * Runs trtexec: locate it, launch it without a shell in its own process group, stream its
 * lines, enforce the timeout and the AbortSignal on the whole group, turn failures into
 * errors that carry the log's tail, and parse the output plus the requested export files.
 * A run that exits 0 without the engine it was asked for, or without the performance
 * summary of the inference it was asked to run, has failed.
 */

import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';


import { buildTrtexecArgs, formatCommand } from './args.js';
import {
  TrtexecCancelledError,
  TrtexecFailedError,
  TrtexecNotFoundError,
  TrtexecTimeoutError,
  TrtexecUsageError,
} from './errors.js';
import { parseLayerInfo, parseProfile, type EngineLayerInfo, type EngineProfile } from './layer-info.js';
import { locateTrtexec } from './locate.js';
import type { BuildOptions, TrtexecStream } from './options.js';
import { LineBuffer, LogTail } from './line-buffer.js';
import { TrtexecOutputParser, type TrtexecSummary } from './parse-output.js';
import { runInGroup } from './process-group.js';

export interface TrtexecRunResult {
  readonly args: readonly string[];
  /** Copy-pasteable command line (shell-quoted). */
  readonly command: string;
  readonly trtexecPath: string;
  readonly exitCode: number;
  readonly durationMs: number;
  readonly summary: TrtexecSummary;
  /** Parsed `exportLayerInfo` file, when requested and readable. */
  readonly layerInfo?: EngineLayerInfo;
  /** Parsed `exportProfile` file, when requested and readable. */
  readonly profile?: EngineProfile;
  /** Problems reading requested export files (the run itself succeeded). */
  readonly exportErrors: readonly string[];
  /** stdout and stderr interleaved in arrival order: the last 2,000 lines (LOG_KEEP_LINES), a line over 64 KiB cut. */
  readonly log: string;
  /** The saved engine (`saveEngine`), when one was requested. */
  readonly enginePath?: string;
}

/** How many trailing log lines failure messages quote. */
export const LOG_TAIL_LINES = 30;

/** How many trailing log lines a result keeps in `log` (memory stays bounded whatever trtexec prints). */
export const LOG_KEEP_LINES = 2_000;

async function isFile(file: string): Promise<boolean> {
  return (await stat(file).catch(() => undefined))?.isFile() ?? false;
}

/** Grace period between SIGTERM and SIGKILL when trtexec is cancelled or times out. */
const FORCE_KILL_AFTER_MS = 5_000;

function indent(lines: readonly string[]): string {
  return lines.map((l) => `  ${l}`).join('\n');
}

/**
 * Runs `trtexec --onnx=<onnxPath> …` and returns the parsed result.
 *
 * Throws `TrtexecUsageError` (bad options, nothing launched), `TrtexecNotFoundError`,
 * `TrtexecFailedError` (non-zero exit, crash, or FAILED verdict; the message quotes the `[E]`
 * lines and the last 30 log lines), `TrtexecTimeoutError` and `TrtexecCancelledError`.
 */
export async function runTrtexec(onnxPath: string, options: BuildOptions = {}): Promise<TrtexecRunResult> {
  const { signal } = options;
  if (signal?.aborted) throw new TrtexecCancelledError('trtexec run cancelled before it started.', { cause: signal.reason });
  const args = buildTrtexecArgs(onnxPath, options);
  if (options.timeoutMs !== undefined && (typeof options.timeoutMs !== 'number' || !(options.timeoutMs > 0) || !Number.isFinite(options.timeoutMs))) {
    throw new TrtexecUsageError(`timeoutMs must be a positive number of milliseconds, got ${JSON.stringify(options.timeoutMs)}.`);
  }
  if (options.onLine !== undefined && typeof options.onLine !== 'function') {
    throw new TrtexecUsageError('onLine must be a function.');
  }

  const env = { ...process.env, ...(options.env ?? {}) };
  const locateOptions: { trtexecPath?: string; env: Record<string, string | undefined>; cwd?: string } = { env };
  if (options.trtexecPath !== undefined) locateOptions.trtexecPath = options.trtexecPath;
  if (options.cwd !== undefined) locateOptions.cwd = options.cwd;
  const trtexecPath = await locateTrtexec(locateOptions);
  if (signal?.aborted) throw new TrtexecCancelledError('trtexec run cancelled before it started.', { args, cause: signal.reason });

  const command = formatCommand(trtexecPath, args);
  const onLine = options.onLine;
  const parser = new TrtexecOutputParser();
  const kept = new LogTail(LOG_KEEP_LINES);
  const emit = (stream: TrtexecStream) => (line: string) => {
    parser.push(line);
    kept.push(line);
    if (onLine) {
      try {
        onLine(line, stream);
      } catch {
        // A faulty progress callback must not break the build.
      }
    }
  };
  const out = new LineBuffer(emit('stdout'));
  const err = new LineBuffer(emit('stderr'));

  const started = performance.now();
  const result = await runInGroup(trtexecPath, args, {
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    env,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(signal !== undefined ? { signal } : {}),
    forceKillAfterMs: FORCE_KILL_AFTER_MS,
    onStdout: (chunk) => out.push(chunk),
    onStderr: (chunk) => err.push(chunk),
  });
  out.flush();
  err.flush();
  const durationMs = performance.now() - started;

  const log = kept.last().join('\n');
  const tail = kept.last(LOG_TAIL_LINES);
  const details = { args, command, log, tail };

  if (result.cancelled) {
    throw new TrtexecCancelledError(
      `trtexec was cancelled after ${(durationMs / 1000).toFixed(1)} s and killed.${tail.length > 0 ? `\nLast lines of the log:\n${indent(tail)}` : ''}`,
      { args, log, cause: signal?.reason },
    );
  }
  if (result.timedOut) {
    throw new TrtexecTimeoutError(
      `trtexec did not finish within ${options.timeoutMs} ms and was killed. Raise timeoutMs (engine builds of large models can take many minutes).\n` +
        `Command: ${command}${tail.length > 0 ? `\nLast ${tail.length} lines of the log:\n${indent(tail)}` : ''}`,
      { ...details, timeoutMs: options.timeoutMs ?? 0 },
    );
  }
  const code = result.spawnError?.code;
  if (result.spawnError && (code === 'ENOENT' || code === 'EACCES')) {
    throw new TrtexecNotFoundError(
      `trtexec could not be started (${String(code)}): ${trtexecPath}. Check that the file exists and is executable, or point qdeploy at another trtexec with the trtexecPath option or TRTEXEC.`,
      [trtexecPath],
      { cause: result.spawnError },
    );
  }

  const summary = parser.summary();
  const errors = summary.errors;
  const version = summary.tensorrtVersion !== undefined ? ` (TensorRT ${summary.tensorrtVersion})` : '';
  let failure: string | undefined;
  if (result.signal !== undefined) {
    failure = `trtexec crashed: killed by signal ${result.signal}${version}.`;
  } else if (result.spawnError || result.exitCode === undefined) {
    failure = `trtexec could not be run: ${result.spawnError?.message ?? 'no exit code'}`;
  } else if (result.exitCode !== 0) {
    failure = `trtexec failed with exit code ${result.exitCode}${version}.`;
  } else if (summary.verdict?.status === 'FAILED') {
    failure = `trtexec reported FAILED${version} although it exited with code 0.`;
  } else if (options.saveEngine !== undefined && !(await isFile(path.resolve(options.cwd ?? process.cwd(), options.saveEngine)))) {
    failure = `trtexec exited with code 0 but wrote no engine file ${path.resolve(options.cwd ?? process.cwd(), options.saveEngine)}${version}.`;
  } else if (!options.skipInference && !summary.inferenceSkipped && summary.throughputQps === undefined && summary.latency === undefined && summary.gpuComputeTime === undefined) {
    failure = `trtexec exited with code 0 but printed no performance summary (no Throughput or Latency line)${version}; pass skipInference to build without benchmarking.`;
  }
  if (failure !== undefined) {
    const message =
      `${failure}\n` +
      (errors.length > 0 ? `Errors:\n${indent(errors)}\n` : 'No [E] lines were printed.\n') +
      `Command: ${command}\n` +
      (tail.length > 0 ? `Last ${tail.length} lines of the log:\n${indent(tail)}` : 'trtexec printed nothing.');
    throw new TrtexecFailedError(message, { ...details, exitCode: result.exitCode, signal: result.signal, errors }, { cause: result.spawnError });
  }

  const baseDir = options.cwd ?? process.cwd();
  const exportErrors: string[] = [];
  let layerInfo: EngineLayerInfo | undefined;
  let profile: EngineProfile | undefined;
  if (options.exportLayerInfo !== undefined) {
    const file = path.resolve(baseDir, options.exportLayerInfo);
    try {
      layerInfo = parseLayerInfo(await readFile(file, 'utf8'));
    } catch (e) {
      exportErrors.push(`exportLayerInfo ${file}: ${(e as Error).message}`);
    }
  }
  if (options.exportProfile !== undefined) {
    const file = path.resolve(baseDir, options.exportProfile);
    try {
      profile = parseProfile(await readFile(file, 'utf8'), layerInfo);
    } catch (e) {
      exportErrors.push(`exportProfile ${file}: ${(e as Error).message}`);
    }
  }

  const res: { -readonly [K in keyof TrtexecRunResult]: TrtexecRunResult[K] } = {
    args,
    command,
    trtexecPath,
    exitCode: result.exitCode ?? 0,
    durationMs,
    summary,
    exportErrors,
    log,
  };
  if (layerInfo !== undefined) res.layerInfo = layerInfo;
  if (profile !== undefined) res.profile = profile;
  if (options.saveEngine !== undefined) res.enginePath = options.saveEngine;
  return res;
}

/** `model.onnx` → `model.engine` (next to the model). */
export function defaultEnginePath(onnxPath: string): string {
  const ext = path.extname(onnxPath);
  return ext.toLowerCase() === '.onnx' ? `${onnxPath.slice(0, -ext.length)}.engine` : `${onnxPath}.engine`;
}

/**
 * Builds and saves an engine: `runTrtexec` with `saveEngine` defaulting to the model path with
 * `.engine` instead of `.onnx`. Inference (benchmarking) still runs unless `skipInference`.
 */
export async function buildEngine(
  onnxPath: string,
  options: BuildOptions = {},
): Promise<TrtexecRunResult & { readonly enginePath: string }> {
  const saveEngine = options.saveEngine ?? defaultEnginePath(onnxPath);
  const result = await runTrtexec(onnxPath, { ...options, saveEngine });
  return { ...result, enginePath: saveEngine };
}
