/**
 * What every pipeline step starts from: the context (where plugins come from, how the
 * user is told things), the backend it loads, and the backend's patterns and quantization
 * config with the user's settings over them.
 */
import type { QuantSettings } from '../../config/types.js';
import type { Pattern } from '../../patterns/pattern.js';
import { backendPatterns, type Backend } from '../../plugins/backend.js';
import { loadBackend, loadPlugins } from '../../plugins/load.js';
import type { QuantConfigInput } from '../../quantize/config.js';
import type { InsertQdqOptions } from '../../quantize/insert-qdq.js';
import { UsageError } from '../errors.js';

/** Where plugins come from and how the user is told things. */
export interface PipelineContext {
  /** Folder the backend and plugins resolve from (a config file's folder; default: the working directory). */
  from?: string;
  /** Plugins to load before the backend (package names or paths). */
  plugins?: readonly string[];
  /** Warnings and notes for the user (default: stderr). */
  log?: (line: string) => void;
}

/** Merges the user's quant settings over the backend's defaults. */
export function mergeQuantConfig(base: QuantConfigInput | undefined, user: QuantSettings | undefined): QuantConfigInput {
  const out: QuantConfigInput = {
    activation: { ...base?.activation, ...user?.activation },
    weight: { ...base?.weight, ...user?.weight },
  };
  const skip = user?.skipWeightQuantFor ?? base?.skipWeightQuantFor;
  if (skip) out.skipWeightQuantFor = [...skip];
  return out;
}

/** The exclusions and overrides of the user's quant settings, as insertQdq takes them. */
export function placementOptions(user: QuantSettings | undefined): Pick<InsertQdqOptions, 'exclude' | 'overrides'> {
  return { exclude: user?.exclude, overrides: user?.overrides };
}

/** Loads the context's plugins, then the backend. */
export async function prepareBackend(spec: string, ctx: PipelineContext = {}): Promise<Backend> {
  if (ctx.plugins?.length) await loadPlugins(ctx.plugins, { from: ctx.from });
  return loadBackend(spec, { from: ctx.from });
}

/** The backend's patterns with the user's backend options; a bad option is a usage error. */
export function configuredPatterns(backend: Backend, options: Record<string, unknown> | undefined): readonly Pattern[] {
  try {
    return backendPatterns(backend, options);
  } catch (e) {
    throw new UsageError(`backendOptions: ${(e as Error).message}`);
  }
}

/** Nodes counted by op type, most first (the unmatched nodes in quantize and inspect reports). */
export function byOpType(nodes: readonly { opType: string }[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const n of nodes) c[n.opType] = (c[n.opType] ?? 0) + 1;
  return Object.fromEntries(Object.entries(c).sort(([a, x], [b, y]) => y - x || a.localeCompare(b)));
}
