/**
 * Loading plugins by name: an npm package or a local module whose default export is a
 * QdeployPlugin (or a bare `register(ctx)` function). Packages resolve from the folder of
 * the config file that names them (then from core's own install, where sibling
 * @qdeploy/* packages live), honouring `exports` maps with ESM conditions; TypeScript
 * modules are loaded through jiti.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Backend } from './backend.js';
import { pluginContext, registeredBackends, registeredCalibrators, resolveBackend } from './container.js';
import type { QdeployPlugin } from './plugin.js';
import { PluginError, firstLine, isPluginError } from './errors.js';
import { loadTimeoutMs, settleWithin, timeoutText } from '../util/settle-timeout.js';
import { backendPackageCandidates, backendShortName, installedBackendPackages } from './naming.js';
import { canonicalMethod, didYouMeanMethod } from './method-names.js';

export { PluginError, firstLine, isPluginError, type PluginErrorKind } from './errors.js';

/** Backend names that stand for a package of this repository. */
export const BUILTIN_BACKENDS: Readonly<Record<string, string>> = Object.freeze({
  tensorrt: '@qdeploy/backend-tensorrt',
  reference: '@qdeploy/backend-reference',
});

/** The package that provides the standard calibration methods. */
export const CALIBRATORS_PACKAGE = '@qdeploy/calibrators';
/** Methods `@qdeploy/calibrators` registers (loaded on demand when one is asked for). */
export const STANDARD_CALIBRATORS: readonly string[] = Object.freeze(['entropy', 'minmax', 'mse', 'percentile']);

export interface LoadPluginOptions {
  /** Folder the plugin is resolved from: the config file's folder (default: the working directory). */
  from?: string;
  /** Also look where core itself is installed when `from` does not have it (default true). */
  fallbackToCore?: boolean;
}

/** What loading a plugin did. */
export interface LoadedPlugin {
  /** The plugin as the user named it. */
  spec: string;
  /** The plugin's own name (its `name`, else the spec). */
  name: string;
  /** The module file that was imported. */
  file: string;
  /** Backends it registered. */
  backends: string[];
  /** Calibration methods it registered. */
  calibrators: string[];
}

const loaded = new Map<string, LoadedPlugin>();

/** Plugins loaded so far in this process (by module file). */
export function loadedPlugins(): LoadedPlugin[] {
  return [...loaded.values()];
}

/** True for "./x", "../x", "/abs/x", "C:\\x", "file:..." (a path, not a package name). */
export function isPathSpec(spec: string): boolean {
  return (
    spec === '.' ||
    spec === '..' ||
    spec.startsWith('./') ||
    spec.startsWith('../') ||
    spec.startsWith('.\\') ||
    spec.startsWith('..\\') ||
    spec.startsWith('file:') ||
    path.isAbsolute(spec) ||
    /^[A-Za-z]:[\\/]/.test(spec)
  );
}

/** Splits "@scope/name/sub/path" into the package name and "./sub/path" (or "."). */
export function parsePackageSpec(spec: string): { name: string; subpath: string } | null {
  const parts = spec.split('/');
  const nameParts = spec.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1);
  if (nameParts.length < (spec.startsWith('@') ? 2 : 1)) return null;
  const name = nameParts.join('/');
  // npm's rules, loosely: lower-case URL-safe characters, no leading dot or underscore.
  if (!/^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/i.test(name)) return null;
  const rest = parts.slice(nameParts.length);
  if (rest.some((p) => p === '' || p === '.' || p === '..')) return null;
  return { name, subpath: rest.length ? `./${rest.join('/')}` : '.' };
}

const CONDITIONS = ['import', 'node', 'module-sync', 'default'];

type ExportsTarget = string | null | ExportsTarget[] | { [key: string]: ExportsTarget };

function resolveTarget(target: ExportsTarget, star: string | undefined): string | null {
  if (target === null) return null;
  if (typeof target === 'string') return star === undefined ? target : target.split('*').join(star);
  if (Array.isArray(target)) {
    for (const t of target) {
      const r = resolveTarget(t, star);
      if (r !== null) return r;
    }
    return null;
  }
  for (const [key, value] of Object.entries(target)) {
    if (CONDITIONS.includes(key)) {
      const r = resolveTarget(value, star);
      if (r !== null) return r;
    }
  }
  return null;
}

/** Node's PACKAGE_EXPORTS_RESOLVE for the import/node/default conditions (the parts packages use). */
export function resolveExports(exportsField: unknown, subpath: string): string | null {
  const exp = exportsField as ExportsTarget;
  if (exp === null || exp === undefined) return null;
  const isSubpathMap = typeof exp === 'object' && !Array.isArray(exp) && Object.keys(exp).some((k) => k.startsWith('.'));
  if (!isSubpathMap) return subpath === '.' ? resolveTarget(exp, undefined) : null;
  const map = exp as Record<string, ExportsTarget>;
  if (Object.hasOwn(map, subpath) && !subpath.includes('*')) return resolveTarget(map[subpath]!, undefined);
  let best: { key: string; star: string } | undefined;
  for (const key of Object.keys(map)) {
    const i = key.indexOf('*');
    if (i < 0) continue;
    const prefix = key.slice(0, i);
    const suffix = key.slice(i + 1);
    if (subpath.startsWith(prefix) && subpath.endsWith(suffix) && subpath.length >= key.length - 1) {
      if (!best || prefix.length > best.key.indexOf('*')) best = { key, star: subpath.slice(prefix.length, subpath.length - suffix.length) };
    }
  }
  return best ? resolveTarget(map[best.key]!, best.star) : null;
}

function readPackageJson(dir: string): Record<string, unknown> | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** A package.json that is there but unusable (not JSON, not an object) is a broken plugin, not a missing one. */
function assertPackageJsonValid(spec: string, dir: string): void {
  const file = path.join(dir, 'package.json');
  if (!isFile(file)) return;
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new PluginError('broken', spec, `plugin "${spec}": ${file} is not valid JSON (${firstLine(err)})`, { cause: err });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new PluginError('broken', spec, `plugin "${spec}": ${file} is not a JSON object`);
  }
}

const FILE_EXTENSIONS = ['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts'];

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** A file as given, or with a known extension, or a folder's index. */
function probeFile(p: string): string | null {
  if (isFile(p)) return p;
  for (const ext of FILE_EXTENSIONS) if (isFile(p + ext)) return p + ext;
  for (const ext of FILE_EXTENSIONS) if (isFile(path.join(p, `index${ext}`))) return path.join(p, `index${ext}`);
  return null;
}

/** The entry file of the package in `dir` for `subpath` (exports map, else main, else index). */
function packageEntry(spec: string, dir: string, subpath: string): string {
  assertPackageJsonValid(spec, dir);
  const pkg = readPackageJson(dir);
  if (!pkg) throw new PluginError('broken', spec, `plugin "${spec}": ${path.join(dir, 'package.json')} is missing or not valid JSON`);
  let target: string | null;
  if (pkg.exports !== undefined) {
    target = resolveExports(pkg.exports, subpath);
    if (target === null) {
      throw new PluginError(
        'broken',
        spec,
        `plugin "${spec}": the "exports" of ${path.join(dir, 'package.json')} have no entry for "${subpath}" under the import/node/default conditions`,
      );
    }
  } else if (subpath === '.') {
    target = typeof pkg.main === 'string' && pkg.main ? pkg.main : './index.js';
  } else {
    target = subpath;
  }
  const abs = path.resolve(dir, target);
  // Node refuses exports targets that leave the package ("../x", "/abs"): so do we.
  const rel = path.relative(dir, abs);
  if (pkg.exports !== undefined && (!target.startsWith('./') || rel.startsWith('..') || path.isAbsolute(rel))) {
    throw new PluginError('broken', spec, `plugin "${spec}": the "exports" of ${path.join(dir, 'package.json')} point outside the package (${JSON.stringify(target)}); an export target must start with "./" and stay inside its folder`);
  }
  const file = pkg.exports !== undefined ? (isFile(abs) ? abs : null) : probeFile(abs);
  if (!file) {
    throw new PluginError(
      'broken',
      spec,
      `plugin "${spec}": its entry ${path.relative(process.cwd(), abs) || abs} does not exist (is the package built? for a workspace package run its build)`,
    );
  }
  return file;
}

/** The folder of package `name` as Node would find it from `from`, or null. */
function findPackageDir(name: string, from: string): string | null {
  let lookup: string[] | null;
  try {
    lookup = createRequire(path.join(from, 'noop.js')).resolve.paths(name);
  } catch {
    lookup = null;
  }
  for (const dir of lookup ?? []) {
    const candidate = path.join(dir, name);
    if (isFile(path.join(candidate, 'package.json'))) return fs.realpathSync(candidate);
  }
  return null;
}

/** Where core itself is installed (sibling @qdeploy/* packages are found from here). */
const coreDir = path.dirname(fileURLToPath(import.meta.url));

/** Resolves a plugin spec to the module file to import. */
export function resolvePlugin(spec: string, options: LoadPluginOptions = {}): string {
  const from = path.resolve(options.from ?? process.cwd());
  if (isPathSpec(spec)) {
    const abs = spec.startsWith('file:') ? fileURLToPath(spec) : path.resolve(from, spec);
    let isDir = false;
    try {
      isDir = fs.statSync(abs).isDirectory();
    } catch {
      // not there: probe extensions below
    }
    if (isDir) assertPackageJsonValid(spec, abs);
    if (isDir && readPackageJson(abs)) return packageEntry(spec, abs, '.');
    const file = probeFile(abs);
    if (!file) throw new PluginError('not-found', spec, `plugin "${spec}" not found: ${abs} does not exist`);
    return file;
  }
  const parsed = parsePackageSpec(spec);
  if (!parsed) {
    throw new PluginError('not-found', spec, `plugin "${spec}" is neither an npm package name nor a path (start a path with ./ or /)`);
  }
  let dir = findPackageDir(parsed.name, from);
  if (!dir && options.fallbackToCore !== false) dir = findPackageDir(parsed.name, coreDir);
  if (!dir) throw new PluginError('not-found', spec, `plugin "${spec}" not found from ${from}: run \`npm install ${parsed.name}\``);
  return packageEntry(spec, dir, parsed.subpath);
}

let jitiInstance: { import(id: string): Promise<unknown> } | undefined;

/** A jiti instance whose '@qdeploy/core' is this very core (no second copy is loaded). */
export async function getJiti(): Promise<{ import(id: string): Promise<unknown> }> {
  if (!jitiInstance) {
    const { createJiti } = await import('jiti');
    const core = (await import('../index.js')) as Record<string, unknown>;
    jitiInstance = createJiti(import.meta.url, {
      virtualModules: { '@qdeploy/core': core },
      fsCache: false,
      moduleCache: false,
    });
  }
  return jitiInstance;
}

const TS_EXTENSIONS = ['.ts', '.mts', '.cts', '.tsx'];

/** Imports a module file: natively for JavaScript, through jiti for TypeScript. */
export async function importModule(file: string): Promise<Record<string, unknown>> {
  if (TS_EXTENSIONS.includes(path.extname(file).toLowerCase())) {
    const jiti = await getJiti();
    return (await jiti.import(file)) as Record<string, unknown>;
  }
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}


function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') {
    const keys = Object.keys(v as object);
    return keys.length ? `an object with keys ${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', ...' : ''}` : 'an empty object';
  }
  return `a ${typeof v} (${String(v).slice(0, 40)})`;
}

/** The plugin a module's exports hold (default export, CommonJS interop included). */
function pluginOf(spec: string, file: string, mod: Record<string, unknown>): QdeployPlugin {
  let d: unknown = mod.default;
  if (d && typeof d === 'object' && !('register' in d) && 'default' in d) d = (d as { default: unknown }).default;
  if (d === undefined) {
    throw new PluginError(
      'broken',
      spec,
      `plugin "${spec}" (${file}) has no default export: export default { name, register(ctx) } or a register(ctx) function`,
    );
  }
  if (typeof d === 'function') return { name: d.name && d.name !== 'default' && d.name !== 'register' ? d.name : spec, register: d as QdeployPlugin['register'] };
  if (d && typeof d === 'object' && typeof (d as { register?: unknown }).register === 'function') {
    const p = d as Partial<QdeployPlugin> & Pick<QdeployPlugin, 'register'>;
    return { name: typeof p.name === 'string' && p.name ? p.name : spec, register: p.register.bind(p) };
  }
  throw new PluginError(
    'broken',
    spec,
    `plugin "${spec}" (${file}): its default export is ${describeValue(d)}; expected { name, register(ctx) } or a register(ctx) function`,
  );
}

/**
 * Loads a plugin: resolves `spec` (npm package name or path) from `options.from`, imports
 * it, and calls its `register` with core's context. A plugin already loaded (same file)
 * is not registered twice.
 */
export async function loadPlugin(spec: string, options: LoadPluginOptions = {}): Promise<LoadedPlugin> {
  const file = resolvePlugin(spec, options);
  const known = loaded.get(file);
  if (known) return known;
  let mod: Record<string, unknown>;
  const timeoutMs = loadTimeoutMs();
  const late = (what: string) => () => new PluginError('broken', spec, `plugin "${spec}" (${file}): ${what} ${timeoutText(timeoutMs)}`);
  try {
    mod = await settleWithin(importModule(file), timeoutMs, late('loading it'));
  } catch (err) {
    if (isPluginError(err)) throw err;
    throw new PluginError('broken', spec, `plugin "${spec}" failed to load (${file}): ${firstLine(err)}`, { cause: err });
  }
  const plugin = pluginOf(spec, file, mod);
  const record: LoadedPlugin = { spec, name: plugin.name, file, backends: [], calibrators: [] };
  const ctx = pluginContext(record);
  try {
    await settleWithin(plugin.register(ctx), timeoutMs, late('register()'));
  } catch (err) {
    if (isPluginError(err)) throw err;
    throw new PluginError('broken', spec, `plugin "${spec}" failed to register: ${firstLine(err)}`, { cause: err });
  }
  loaded.set(file, record);
  return record;
}

/** Loads several plugins in order. */
export async function loadPlugins(specs: readonly string[], options: LoadPluginOptions = {}): Promise<LoadedPlugin[]> {
  const out: LoadedPlugin[] = [];
  for (const spec of specs) out.push(await loadPlugin(spec, options));
  return out;
}

/**
 * The package (or path) a backend spec stands for: the first of its naming-convention
 * candidates that is installed (see naming.ts). None: "unknown backend", listing the
 * backends that are registered or installed.
 */
export function backendPackageFor(spec: string, options: LoadPluginOptions = {}): string {
  if (isPathSpec(spec)) return spec;
  const candidates = backendPackageCandidates(spec);
  for (const candidate of candidates) {
    try {
      resolvePlugin(candidate, options);
      return candidate;
    } catch (err) {
      if (!isPluginError(err) || err.kind !== 'not-found') throw err;
    }
  }
  const from = path.resolve(options.from ?? process.cwd());
  const packages = installedBackendPackages(options.fallbackToCore === false ? [from] : [from, coreDir]).map(backendShortName);
  const installed = [...new Set([...registeredBackends(), ...packages])].sort();
  const tried = candidates.length > 1 ? `no package ${candidates.slice(0, -1).join(', ')} or ${candidates.at(-1)}` : `no package ${candidates[0]}`;
  const own = candidates.length === 1 ? `; run \`npm install ${parsePackageSpec(spec)?.name ?? spec}\`` : '';
  throw new PluginError(
    'not-found',
    spec,
    `unknown backend "${spec}" (installed: ${installed.length ? installed.join(', ') : 'none'}): ${tried} found from ${from}${own}`,
  );
}

/**
 * The backend a config or command line names: a registered backend name, a built-in
 * shortcut ("tensorrt" → @qdeploy/backend-tensorrt, "reference" →
 * @qdeploy/backend-reference), or a package name / path of a plugin that registers one.
 */
export async function loadBackend(spec: string, options: LoadPluginOptions = {}): Promise<Backend> {
  if (registeredBackends().includes(spec)) return resolveBackend(spec);
  const builtin = BUILTIN_BACKENDS[spec];
  const plugin = await loadPlugin(builtin ?? backendPackageFor(spec, options), options);
  const name = builtin ? spec : plugin.backends.length === 1 ? plugin.backends[0]! : undefined;
  if (name === undefined) {
    if (plugin.backends.length === 0) {
      throw new PluginError('broken', spec, `plugin "${spec}" registers no backend (it registered ${plugin.calibrators.length ? `calibrators ${plugin.calibrators.join(', ')}` : 'nothing'})`);
    }
    throw new PluginError(
      'not-registered',
      spec,
      `plugin "${spec}" registers several backends (${plugin.backends.join(', ')}): list it in "plugins" and name one of them as the backend`,
    );
  }
  if (!registeredBackends().includes(name)) {
    throw new PluginError('broken', spec, `plugin "${builtin ?? spec}" did not register backend "${name}"`);
  }
  return resolveBackend(name);
}

/**
 * Makes sure calibration method `method` is registered: the standard methods load
 * @qdeploy/calibrators on demand; any other name must come from a loaded plugin.
 */
export async function ensureCalibrator(name: string, options: LoadPluginOptions = {}): Promise<string> {
  // Any case, and other tools' names ("max", "MinMax", "Entropy"): the canonical name is returned.
  const method = canonicalMethod(name, [...new Set([...registeredCalibrators(), ...STANDARD_CALIBRATORS])]);
  if (registeredCalibrators().includes(method)) return method;
  if (STANDARD_CALIBRATORS.includes(method)) {
    try {
      await loadPlugin(CALIBRATORS_PACKAGE, options);
    } catch (err) {
      if (isPluginError(err) && err.kind === 'not-found') {
        const from = path.resolve(options.from ?? process.cwd());
        throw new PluginError(
          'not-found',
          CALIBRATORS_PACKAGE,
          `calibration method "${method}" comes from plugin "${CALIBRATORS_PACKAGE}", which was not found from ${from}: run \`npm install ${CALIBRATORS_PACKAGE}\``,
          { cause: err },
        );
      }
      throw err;
    }
    if (registeredCalibrators().includes(method)) return method;
  }
  const known = registeredCalibrators();
  throw new PluginError(
    'not-registered',
    method,
    `unknown calibration method "${method}"${didYouMeanMethod(method, [...new Set([...known, ...STANDARD_CALIBRATORS])])} (${known.length ? `registered: ${known.join(', ')}` : `standard: ${STANDARD_CALIBRATORS.join(', ')}`}; a plugin listed in "plugins" can register more)`,
  );
}
