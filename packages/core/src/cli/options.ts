/** Shared option parsers and the I/O a command writes to. */
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { isPathSpec } from '../plugins/load.js';
import { printableJson } from '../util/printable.js';

/** Where a command's output goes (process streams in the bin; buffers in tests). */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
}

export const processIO: CliIO = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer.');
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a non-negative integer.');
  return n;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `key=value` pairs; values parse as JSON when they can (numbers, booleans, arrays), else stay strings. */
export function keyValue(value: string, previous: Record<string, unknown> = {}): Record<string, unknown> {
  const i = value.indexOf('=');
  if (i <= 0) throw new InvalidArgumentError('expected key=value.');
  const key = value.slice(0, i).trim();
  const raw = value.slice(i + 1);
  let v: unknown = raw;
  try {
    v = JSON.parse(raw);
  } catch {
    // a plain string
  }
  return { ...previous, [key]: v };
}

/** An output path made absolute, keeping a trailing separator ("out/": a folder, refused later with a clear message). */
export function outputPath(p: string): string {
  const abs = path.resolve(p);
  return /[\\/]$/.test(p) && !abs.endsWith(path.sep) ? abs + path.sep : abs;
}

/** Plugin specs from the command line: paths made absolute (relative to the working directory). */
export function cliPluginSpecs(specs: readonly string[] | undefined): string[] {
  return (specs ?? []).map((s) => (isPathSpec(s) && !s.startsWith('file:') ? path.resolve(s) : s));
}

/** Options every command has. */
export function addCommonOptions(cmd: Command, { progress = false, json = false } = {}): Command {
  if (json) cmd.option('--json', 'print the report as JSON on stdout');
  if (progress) cmd.option('--no-progress', 'no progress bar / progress lines');
  cmd.option('--verbose', 'print stack traces of errors');
  return cmd;
}

export function printJson(io: CliIO, value: unknown): void {
  io.out(`${printableJson(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2))}\n`);
}
