/**
 * Reading a config file: JSON, YAML, or a JS/TS module (default export, possibly a
 * function) loaded through jiti; validated with the schema; paths made absolute
 * relative to the file. Every failure is a ConfigError naming the file.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { core as zcore } from 'zod';
import { firstLine, getJiti, isPathSpec } from '../plugins/load.js';
import { closest } from '../util/closest.js';
import { ConfigError, isConfigError } from './errors.js';
import { loadTimeoutMs, settleWithin, timeoutText } from '../util/settle-timeout.js';
import { configSchema, knownKeysAt } from './schema.js';
import type { QdeployConfig, ResolvedConfig } from './types.js';

/** The names `qdeploy run` looks for, in this order. */
export const CONFIG_FILE_NAMES: readonly string[] = Object.freeze([
  'qdeploy.config.ts',
  'qdeploy.config.mjs',
  'qdeploy.config.js',
  'qdeploy.config.yaml',
  'qdeploy.config.yml',
  'qdeploy.config.json',
]);

const MODULE_EXTENSIONS = ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'];
const YAML_EXTENSIONS = ['.yaml', '.yml'];

/** Identity helper: gives a config module editor completion and type checking. */
export function defineConfig<const T extends QdeployConfig>(config: T): T;
export function defineConfig(config: () => QdeployConfig | Promise<QdeployConfig>): () => QdeployConfig | Promise<QdeployConfig>;
export function defineConfig(config: unknown): unknown {
  return config;
}

/** A path as the user is best shown it: relative to the working directory when inside it. */
export function displayPath(file: string): string {
  const abs = path.resolve(file);
  const rel = path.relative(process.cwd(), abs);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : abs;
}

/** The first config file of CONFIG_FILE_NAMES in `dir`, or null. */
export function findConfigFile(dir: string = process.cwd()): string | null {
  for (const name of CONFIG_FILE_NAMES) {
    const file = path.join(dir, name);
    try {
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // next
    }
  }
  return null;
}

function formatPath(p: readonly PropertyKey[]): string {
  let out = '';
  for (const k of p) {
    if (typeof k === 'number') out += `[${k}]`;
    else out += out ? `.${String(k)}` : String(k);
  }
  return out;
}

export { closest };

/** Zod issues as lines `<path>: <what is wrong>` (without the file name). */
export function formatIssues(issues: readonly zcore.$ZodIssue[]): string[] {
  const lines: string[] = [];
  for (const iss of issues) {
    const where = formatPath(iss.path);
    const prefix = where ? `${where}: ` : '';
    if (iss.code === 'unrecognized_keys') {
      const known = knownKeysAt(iss.path);
      for (const key of iss.keys) {
        const near = closest(key, known);
        const hint = near ? ` (did you mean "${near}"?)` : known.length ? ` (known keys: ${known.join(', ')})` : '';
        lines.push(`${prefix}unknown key "${key}"${hint}`);
      }
      continue;
    }
    lines.push(`${prefix}${iss.message}`);
  }
  return lines;
}

/** Validates a config object; `file` names it in messages. Paths are left as they are. */
export function validateConfig(value: unknown, file = 'config'): QdeployConfig {
  const r = configSchema.safeParse(value, { reportInput: true });
  if (!r.success) throw new ConfigError(file, formatIssues(r.error.issues).map((l) => `${file}: ${l}`));
  return r.data as QdeployConfig;
}

function jsonError(text: string, err: unknown): string {
  let msg = firstLine(err);
  const m = /position (\d+)/.exec(msg);
  if (m && !/line \d+/.test(msg)) {
    const pos = Number(m[1]);
    const before = text.slice(0, pos).split('\n');
    msg += ` (line ${before.length}, column ${before[before.length - 1]!.length + 1})`;
  }
  return msg;
}

/** Reads a config file's raw value (not validated). */
export async function readConfigValue(file: string): Promise<unknown> {
  const shown = displayPath(file);
  const abs = path.resolve(file);
  const ext = path.extname(abs).toLowerCase();
  const supported = ext === '.json' || YAML_EXTENSIONS.includes(ext) || MODULE_EXTENSIONS.includes(ext);
  if (!supported) {
    throw new ConfigError(file, [`${shown}: unsupported config format "${ext || '(no extension)'}" (use .json, .yaml, .yml, .js, .mjs or .ts)`]);
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch {
    throw new ConfigError(file, [`${shown}: no such config file`]);
  }
  if (!st.isFile()) throw new ConfigError(file, [`${shown}: is not a file`]);

  if (MODULE_EXTENSIONS.includes(ext)) {
    let mod: unknown;
    const timeoutMs = loadTimeoutMs();
    const late = (what: string) => () => new ConfigError(file, [`${shown}: ${what} ${timeoutText(timeoutMs)}`]);
    try {
      const jiti = await getJiti();
      mod = await settleWithin(jiti.import(abs), timeoutMs, late('loading the config'));
    } catch (err) {
      if (isConfigError(err)) throw err;
      throw new ConfigError(file, [`${shown}: cannot load: ${firstLine(err)}`], { cause: err });
    }
    if (!mod || typeof mod !== 'object' || !('default' in mod)) {
      throw new ConfigError(file, [`${shown}: no default export (export default defineConfig({ ... }))`]);
    }
    let value = (mod as { default: unknown }).default;
    if (typeof value === 'function') {
      try {
        value = await settleWithin((value as () => unknown)(), timeoutMs, late('the exported config function'));
      } catch (err) {
        if (isConfigError(err)) throw err;
        throw new ConfigError(file, [`${shown}: the exported config function threw: ${firstLine(err)}`], { cause: err });
      }
    }
    if (value !== null && typeof (value as { then?: unknown } | undefined)?.then === 'function') {
      value = await settleWithin(value as PromiseLike<unknown>, timeoutMs, late('the exported config promise'));
    }
    if (value === undefined) throw new ConfigError(file, [`${shown}: no default export (export default defineConfig({ ... }))`]);
    return value;
  }

  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`${shown}: cannot read: ${firstLine(err)}`], { cause: err });
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (ext === '.json') {
    if (text.trim() === '') throw new ConfigError(file, [`${shown}: the file is empty`]);
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new ConfigError(file, [`${shown}: invalid JSON: ${jsonError(text, err)}`], { cause: err });
    }
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    throw new ConfigError(
      file,
      doc.errors.slice(0, 5).map((e) => `${shown}: invalid YAML: ${firstLine(e).replace(/:$/, '')}`),
      { cause: doc.errors[0] },
    );
  }
  if (doc.contents === null || doc.contents === undefined) throw new ConfigError(file, [`${shown}: the file is empty`]);
  try {
    return doc.toJS({ maxAliasCount: 1000 }) as unknown;
  } catch (err) {
    throw new ConfigError(file, [`${shown}: invalid YAML: ${firstLine(err)}`], { cause: err });
  }
}

/** Makes the config's paths absolute, relative to `dir`. */
export function resolveConfigPaths(config: QdeployConfig, file: string): ResolvedConfig {
  const dir = path.dirname(path.resolve(file));
  const abs = (p: string) => path.resolve(dir, p);
  const spec = (s: string) => (isPathSpec(s) && !s.startsWith('file:') ? abs(s) : s);
  const out: ResolvedConfig = {
    ...config,
    file: path.resolve(file),
    dir,
    model: abs(config.model),
    // A trailing separator ("out/") is kept so the output check can say it names a folder.
    output: abs(config.output) + (/[\\/]$/.test(config.output) ? path.sep : ''),
    backend: spec(config.backend),
  };
  if (config.plugins) out.plugins = config.plugins.map(spec);
  if (config.calibration) out.calibration = { ...config.calibration, data: abs(config.calibration.data) };
  if (config.tune) {
    const t = config.tune;
    out.tune = { ...t, data: abs(t.data), ...(t.labels ? { labels: abs(t.labels) } : {}), ...(t.heldOut ? { heldOut: abs(t.heldOut) } : {}), ...(t.heldOutLabels ? { heldOutLabels: abs(t.heldOutLabels) } : {}) };
  }
  if (config.evaluate) {
    const ref = config.evaluate.ref;
    out.evaluate = { ...config.evaluate, data: abs(config.evaluate.data), labels: abs(config.evaluate.labels) };
    if (typeof ref === 'string') out.evaluate.ref = abs(ref);
  }
  if (config.build) {
    out.build = { ...config.build };
    if (typeof config.build.output === 'string') out.build.output = abs(config.build.output);
  }
  return out;
}

/** Loads, validates and resolves a config file. */
export async function loadConfig(file: string): Promise<ResolvedConfig> {
  const value = await readConfigValue(file);
  const config = validateConfig(value, displayPath(file));
  return resolveConfigPaths(config, file);
}
