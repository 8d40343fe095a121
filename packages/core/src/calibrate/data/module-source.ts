/**
 * Calibration data from a JS/TS module. The module exports one of:
 *  - `default` or `calibrationData`: an (async) iterable of feeds — an array works — or a
 *    function (may be async, may be an async generator) returning one; it is called with
 *    `{ batchSize, limit, inputNames }`;
 *  - `forwardLoop(run)`: the user's own loop, awaiting `run(feed)` for each batch.
 * A feed is a Tensor (single-input model), an object input name → Tensor, or an array of
 * tensors in model-input order. Each feed is one batch (axis 0); batchSize is only a hint.
 * TypeScript modules are loaded with jiti, JavaScript ones with import().
 */
import fs from 'node:fs/promises';
import nodePath from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import type { ForwardLoop } from '../types.js';
import { DataError } from './errors.js';
import { feedsFromForwardLoop } from './forward-loop.js';
import { resolveInput, resolveSourceOptions, sliceBatch, type CalibrationBatch, type CalibrationDataSource, type SourceOptions } from './source.js';
import { isTensor } from './validate.js';
import { nonRegularKind } from '../../util/file-kind.js';
import { loadTimeoutMs, settleWithin, timeoutText } from '../../util/settle-timeout.js';

export const MODULE_EXTENSIONS = ['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts'] as const;
const TS_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.tsx']);

export type ModuleSourceOptions = SourceOptions;

/** What a data module's factory function receives. */
export interface DataModuleContext {
  batchSize: number;
  limit: number | undefined;
  /** The model's input names, when known. */
  inputNames: string[] | undefined;
}

type AnyIterable = AsyncIterable<unknown> | Iterable<unknown>;

function isIterable(v: unknown): v is AnyIterable {
  if (typeof v !== 'object' || v === null) return false;
  return typeof (v as Record<symbol, unknown>)[Symbol.asyncIterator] === 'function' || typeof (v as Record<symbol, unknown>)[Symbol.iterator] === 'function';
}

async function loadModule(path: string): Promise<Record<string, unknown>> {
  const abs = nodePath.resolve(path);
  try {
    if (TS_EXTENSIONS.has(nodePath.extname(abs).toLowerCase())) {
      const { createJiti } = await import('jiti');
      const jiti = createJiti(import.meta.url, { moduleCache: false, fsCache: false });
      return (await jiti.import(abs)) as Record<string, unknown>;
    }
    return (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (err) {
    throw new DataError('module', `${path}: cannot load data module (${err instanceof Error ? err.message : String(err)})`, { path, cause: err });
  }
}

type Provider = { kind: 'iterable'; make: (ctx: DataModuleContext) => Promise<AnyIterable>; count?: number } | { kind: 'loop'; loop: ForwardLoop };

function findProvider(mod: Record<string, unknown>, path: string, depth = 0): Provider {
  if (typeof mod.forwardLoop === 'function') return { kind: 'loop', loop: mod.forwardLoop as ForwardLoop };
  const candidate = mod.calibrationData ?? mod.default;
  if (typeof candidate === 'function') {
    const fn = candidate as (ctx: DataModuleContext) => unknown;
    return {
      kind: 'iterable',
      make: async (ctx) => {
        const result = await fn(ctx);
        if (!isIterable(result)) {
          throw new DataError('module', `${path}: the exported data function returned ${describe(result)}, not an iterable of feeds`, { path });
        }
        return result;
      },
    };
  }
  if (isIterable(candidate)) {
    const count = Array.isArray(candidate) ? candidate.length : undefined;
    return { kind: 'iterable', make: async () => candidate, ...(count !== undefined && { count }) };
  }
  // CommonJS `module.exports = { calibrationData }` arrives as `default`.
  if (depth === 0 && typeof candidate === 'object' && candidate !== null && !isTensor(candidate)) {
    const inner = candidate as Record<string, unknown>;
    if ('forwardLoop' in inner || 'calibrationData' in inner || 'default' in inner) return findProvider(inner, path, 1);
  }
  const names = Object.keys(mod).join(', ') || 'none';
  throw new DataError(
    'module',
    `${path}: no calibration data exported: expected 'default' or 'calibrationData' (an async iterable or array of feeds, or a function returning one) or a 'forwardLoop(run)' function; the module exports: ${names}`,
    { path },
  );
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? `an object (${Object.keys(v).slice(0, 5).join(', ') || 'no keys'})` : typeof v;
}

function toOrtTensor(t: ort.Tensor): ort.Tensor {
  return t instanceof ort.Tensor ? t : new ort.Tensor(t.type, t.data as Float32Array, t.dims);
}

/** Loads a data module and wraps its export as a data source. */
export async function moduleSource(path: string, options: ModuleSourceOptions = {}): Promise<CalibrationDataSource> {
  const { batchSize, limit } = resolveSourceOptions(options);
  const st = await fs.stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new DataError('not-found', `${path}: no such file (${err.code ?? err.message})`, { path, cause: err });
  });
  const kind = nonRegularKind(st);
  if (kind !== null) throw new DataError('not-found', `${path}: is ${kind}, not a data module file`, { path });
  const timeoutMs = loadTimeoutMs();
  const late = (what: string) => () => new DataError('invalid-option', `${path}: ${what} ${timeoutText(timeoutMs)}`, { path });
  const mod = await settleWithin(loadModule(path), timeoutMs, late('loading the data module'));
  const provider = findProvider(mod, path);
  const inputNames = options.modelInputs?.map((i) => i.name);
  const ctx: DataModuleContext = { batchSize, limit: limit === Infinity ? undefined : limit, inputNames };
  let singleName: string | undefined;
  const nameForSingle = (): string => (singleName ??= resolveInput(options, path).name);

  const toRecord = (item: unknown, index: number): Record<string, ort.Tensor> => {
    if (isTensor(item)) return { [nameForSingle()]: toOrtTensor(item) };
    if (Array.isArray(item)) {
      const names = inputNames ?? (item.length === 1 ? [nameForSingle()] : undefined);
      if (!names) throw new DataError('invalid-option', `batch ${index} of ${path}: an array of ${item.length} tensors needs the model's input names`);
      if (item.length !== names.length) {
        throw new DataError('missing-input', `batch ${index} of ${path}: an array of ${item.length} tensors but the model has ${names.length} inputs (${names.map((n) => `'${n}'`).join(', ')})`);
      }
      const out: Record<string, ort.Tensor> = {};
      item.forEach((t, i) => {
        if (!isTensor(t)) throw new DataError('invalid-option', `batch ${index} of ${path}: array element ${i} is ${describe(t)}, not a tensor`);
        out[names[i]!] = toOrtTensor(t);
      });
      return out;
    }
    if (typeof item === 'object' && item !== null) {
      const out: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(item)) {
        if (!isTensor(t)) throw new DataError('invalid-option', `batch ${index} of ${path}: input '${name}' is ${describe(t)}, not a tensor`);
        out[name] = toOrtTensor(t);
      }
      if (Object.keys(out).length === 0) throw new DataError('invalid-option', `batch ${index} of ${path}: an empty object`);
      return out;
    }
    throw new DataError('invalid-option', `batch ${index} of ${path}: expected a tensor, an object of tensors or an array of tensors, got ${describe(item)}`);
  };

  async function* iterate(): AsyncGenerator<CalibrationBatch> {
    const items: AnyIterable = provider.kind === 'loop' ? feedsFromForwardLoop(provider.loop) : await settleWithin(provider.make(ctx), timeoutMs, late('the data function'));
    let index = 0;
    let emitted = 0;
    const it = (Symbol.asyncIterator in (items as object) ? (items as AsyncIterable<unknown>)[Symbol.asyncIterator]() : (items as Iterable<unknown>)[Symbol.iterator]()) as AsyncIterator<unknown> | Iterator<unknown>;
    let done = false;
    try {
      for (;;) {
        // Until next() settles, the module's generator is running: return() would wait for it.
        done = true;
        const step = await settleWithin(it.next(), timeoutMs, late(`batch ${index}`));
        done = false;
        if (step.done) {
          done = true;
          return;
        }
        const item = await settleWithin(step.value, timeoutMs, late(`batch ${index}`));
        let inputs = toRecord(item, index);
        const first = Object.values(inputs)[0]!;
        let samples = first.dims.length > 0 ? first.dims[0]! : 1;
        if (emitted + samples > limit) {
          const keep = limit - emitted;
          const full = samples;
          inputs = Object.fromEntries(Object.entries(inputs).map(([n, t]) => [n, t.dims[0] === full ? sliceBatch(t, keep) : t]));
          samples = keep;
        }
        yield { inputs, index: index++, samples };
        emitted += samples;
        if (emitted >= limit) return;
      }
    } finally {
      // What for await does on an early exit (not when next() itself failed): let the module's generator (or loop) finish.
      if (!done) await it.return?.();
    }
  }

  return {
    description: path,
    ...(provider.kind === 'iterable' && provider.count !== undefined && limit === Infinity && { totalBatches: provider.count }),
    [Symbol.asyncIterator]: iterate,
  };
}
