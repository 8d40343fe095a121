/**
 * BuildOptions → the exact trtexec argument vector, with every contradiction refused up front
 * (a TensorRT build can take many minutes; failing it at the end for a typo is not acceptable).
 *
 * Argument order (stable, so commands can be compared and cached):
 *   --onnx  precision  shapes  workspace  --saveEngine  --profilingVerbosity  --exportLayerInfo
 *   --exportProfile --separateProfileRun  --skipInference  inference flags  extraArgs
 *
 * Shape lists follow trtexec's own parser (samples/common/sampleOptions.cpp): the list is split
 * on `,`, a name may be wrapped in single quotes (`'input.1':1x3x224x224`, exactly two quotes),
 * otherwise the value is what follows the last `:`; dimensions are separated by `x`.
 */

import { TrtexecUsageError } from './errors.js';
import {
  DEFAULT_TRT_VERSION,
  isShapeRange,
  precisionList,
  type BuildOptions,
  type Dims,
  type Precision,
  type ShapeRange,
  type TrtVersionHint,
} from './options.js';

/**
 * Flags that `buildTrtexecArgs` emits or that would contradict what it emits. `extraArgs` may not
 * contain them: use the corresponding option.
 */
export const MANAGED_FLAGS: Readonly<Record<string, string>> = {
  '--onnx': 'the onnxPath argument',
  '--loadEngine': 'nothing (this module builds from ONNX; --loadEngine would conflict with --onnx)',
  '--uff': 'nothing (ONNX only)',
  '--model': 'nothing (ONNX only)',
  '--deploy': 'nothing (ONNX only)',
  '--best': "precision: 'best'",
  '--int8': "precision: 'int8'",
  '--fp16': "precision: 'fp16'",
  '--stronglyTyped': "precision: 'stronglyTyped'",
  '--shapes': 'shapes / inferenceShapes',
  '--minShapes': 'shapes ({min, opt, max})',
  '--optShapes': 'shapes ({min, opt, max})',
  '--maxShapes': 'shapes ({min, opt, max})',
  '--memPoolSize': 'workspaceMiB',
  '--workspace': 'workspaceMiB',
  '--saveEngine': 'saveEngine',
  '--profilingVerbosity': 'profilingVerbosity',
  '--exportLayerInfo': 'exportLayerInfo',
  '--exportProfile': 'exportProfile',
  '--separateProfileRun': 'exportProfile (it adds --separateProfileRun)',
  '--skipInference': 'skipInference',
  '--buildOnly': 'skipInference',
  '--useCudaGraph': 'useCudaGraph',
  '--useSpinWait': 'useSpinWait',
  '--noDataTransfers': 'noDataTransfers',
  '--duration': 'duration',
  '--iterations': 'iterations',
  '--warmUp': 'warmUp',
  '--avgRuns': 'avgRuns',
  '--help': 'nothing (--help only prints usage)',
  '-h': 'nothing (-h only prints usage)',
};

/** Flags trtexec accepts more than once. Any other flag given twice is an "Unknown option". */
const REPEATABLE_FLAGS = new Set(['--plugins', '--staticPlugins', '--dynamicPlugins', '--setPluginsToSerialize']);

/** Precision flags that a strongly typed network refuses or ignores. */
const WEAK_TYPE_FLAGS = new Set(['--bf16', '--fp8', '--int4']);

const PRECISIONS: readonly Precision[] = ['best', 'int8', 'fp16', 'fp32', 'stronglyTyped'];

/** Parses a `trtVersion` hint such as `'10'`, `'10.9'`, `'8.6.1'`, `'8.6.1.6'`. */
export function parseTrtVersionHint(text: string | undefined): TrtVersionHint {
  const value = (text ?? DEFAULT_TRT_VERSION).trim();
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.\d+){0,2}$/.exec(value);
  if (!m) {
    throw new TrtexecUsageError(
      `trtVersion "${text}" is not a TensorRT version; use "10", "10.9", "8.6" or similar.`,
    );
  }
  return { major: Number(m[1]), minor: m[2] === undefined ? undefined : Number(m[2]), text: value };
}

/** true when the hint is known to be at least major.minor; undefined when the hint has no minor and the major matches. */
function atLeast(v: TrtVersionHint, major: number, minor: number): boolean | undefined {
  if (v.major !== major) return v.major > major;
  if (v.minor === undefined) return undefined;
  return v.minor >= minor;
}

/** Wraps a tensor name in single quotes unless it is a plain identifier; refuses names trtexec cannot parse. */
export function quoteTensorName(name: string): string {
  if (name.length === 0) throw new TrtexecUsageError('An input name in shapes is empty.');
  if (name.includes(',')) {
    throw new TrtexecUsageError(
      `Input name "${name}" contains ",": trtexec splits shape lists on "," and cannot address it. Rename the input in the ONNX model.`,
    );
  }
  if (name.includes("'")) {
    throw new TrtexecUsageError(
      `Input name "${name}" contains a single quote: trtexec uses quotes to delimit names and cannot address it. Rename the input in the ONNX model.`,
    );
  }
  if (name.trim() !== name) {
    throw new TrtexecUsageError(`Input name "${name}" has leading or trailing whitespace.`);
  }
  return /^[A-Za-z0-9_]+$/.test(name) ? name : `'${name}'`;
}

function checkDims(name: string, what: string, dims: unknown): Dims {
  if (!Array.isArray(dims)) {
    throw new TrtexecUsageError(`shapes: ${what} of input "${name}" must be an array of dimensions, got ${JSON.stringify(dims)}.`);
  }
  if (dims.length === 0) {
    throw new TrtexecUsageError(`shapes: ${what} of input "${name}" is empty (rank 0); scalar inputs need no shape.`);
  }
  for (const d of dims) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d <= 0) {
      throw new TrtexecUsageError(
        `shapes: ${what} of input "${name}" is [${dims.join(', ')}]; every dimension must be a positive integer (${JSON.stringify(d)} is not). Dynamic (-1) dimensions need a {min, opt, max} range.`,
      );
    }
  }
  return dims as Dims;
}

function dimsText(dims: Dims): string {
  return dims.join('x');
}

function checkRange(name: string, spec: ShapeRange): ShapeRange {
  const keys = Object.keys(spec);
  const extra = keys.filter((k) => k !== 'min' && k !== 'opt' && k !== 'max');
  if (extra.length > 0) {
    throw new TrtexecUsageError(
      `shapes: input "${name}" mixes a range with other keys (${extra.join(', ')}); give either a fixed shape [..] or {min, opt, max}, not both.`,
    );
  }
  const missing = (['min', 'opt', 'max'] as const).filter((k) => spec[k] === undefined);
  if (missing.length > 0) {
    throw new TrtexecUsageError(
      `shapes: the range of input "${name}" lacks ${missing.join(', ')}; a range needs min, opt and max (for a fixed shape give an array).`,
    );
  }
  const min = checkDims(name, 'min', spec.min);
  const opt = checkDims(name, 'opt', spec.opt);
  const max = checkDims(name, 'max', spec.max);
  if (min.length !== opt.length || opt.length !== max.length) {
    throw new TrtexecUsageError(
      `shapes: input "${name}" has mismatched ranks: min ${dimsText(min)} (rank ${min.length}), opt ${dimsText(opt)} (rank ${opt.length}), max ${dimsText(max)} (rank ${max.length}).`,
    );
  }
  for (let i = 0; i < min.length; i++) {
    const lo = min[i]!;
    const mid = opt[i]!;
    const hi = max[i]!;
    if (lo > mid) {
      throw new TrtexecUsageError(
        `shapes: input "${name}" has min > opt at dimension ${i} (${lo} > ${mid}); need min ≤ opt ≤ max (min ${dimsText(min)}, opt ${dimsText(opt)}, max ${dimsText(max)}).`,
      );
    }
    if (mid > hi) {
      throw new TrtexecUsageError(
        `shapes: input "${name}" has opt > max at dimension ${i} (${mid} > ${hi}); need min ≤ opt ≤ max (min ${dimsText(min)}, opt ${dimsText(opt)}, max ${dimsText(max)}).`,
      );
    }
  }
  return { min, opt, max };
}

function positiveInt(value: unknown, option: string, unit = ''): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new TrtexecUsageError(`${option} must be a positive integer${unit}, got ${JSON.stringify(value)}.`);
  }
  return value;
}

function nonEmptyPath(value: unknown, option: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TrtexecUsageError(`${option} must be a non-empty file path, got ${JSON.stringify(value)}.`);
  }
  return value;
}

/** Validates and normalizes the precision spec into the flags to emit (canonical order). */
function precisionFlags(options: BuildOptions, version: TrtVersionHint): string[] {
  const spec = options.precision;
  if (spec !== undefined && typeof spec !== 'string' && !Array.isArray(spec)) {
    throw new TrtexecUsageError(`precision must be one of ${PRECISIONS.join(', ')} or an array of them.`);
  }
  const list = precisionList(spec);
  if (list.length === 0) throw new TrtexecUsageError('precision is an empty array; give at least one mode.');
  for (const p of list) {
    if (!PRECISIONS.includes(p)) {
      throw new TrtexecUsageError(`Unknown precision "${String(p)}"; use one of ${PRECISIONS.join(', ')}.`);
    }
  }
  const set = new Set(list);
  if (set.has('stronglyTyped')) {
    if (set.size > 1) {
      const others = [...set].filter((p) => p !== 'stronglyTyped').join(', ');
      throw new TrtexecUsageError(
        `precision 'stronglyTyped' cannot be combined with ${others}: TensorRT 10 rejects --best with --stronglyTyped and ignores --int8/--fp16 (a strongly typed network takes its precisions from the model's own types and Q/DQ nodes).`,
      );
    }
    if (version.major < 9) {
      throw new TrtexecUsageError(
        `precision 'stronglyTyped' needs TensorRT 10 (--stronglyTyped does not exist in TensorRT ${version.text}); use 'best' or 'int8' for a QDQ model.`,
      );
    }
    return ['--stronglyTyped'];
  }
  const weak = [...set].filter((p) => p === 'best' || p === 'fp16' || p === 'int8');
  if (version.major >= 11 && weak.length) {
    throw new TrtexecUsageError(
      `TensorRT ${version.text} has no ${weak.map((p) => `--${p}`).join(' / ')}: TensorRT 11 removed weak typing (the builder's precision flags). Export the float regions in FP16 (qdeploy quantize --float fp16) and build with precision 'stronglyTyped' (the default for such a model).`,
    );
  }
  if (set.has('fp32') && set.size > 1) {
    throw new TrtexecUsageError(
      `precision 'fp32' means "no reduced-precision flag" and cannot be combined with ${[...set].filter((p) => p !== 'fp32').join(', ')}.`,
    );
  }
  if (set.has('best') && set.size > 1) {
    throw new TrtexecUsageError(
      `precision 'best' already enables FP16 and INT8; do not combine it with ${[...set].filter((p) => p !== 'best').join(', ')}.`,
    );
  }
  if (set.has('best')) return ['--best'];
  const flags: string[] = [];
  if (set.has('fp16')) flags.push('--fp16');
  if (set.has('int8')) flags.push('--int8');
  return flags;
}

function unquote(name: string): string {
  return name.length >= 2 && name.startsWith("'") && name.endsWith("'") ? name.slice(1, -1) : name;
}

function shapesOf(shapes: BuildOptions['shapes'], key: string): string {
  return isShapeRange(shapes?.[key]) ? 'a range' : 'a fixed shape';
}

function shapeFlags(options: BuildOptions): string[] {
  const { shapes, inferenceShapes } = options;
  if (shapes !== undefined && (typeof shapes !== 'object' || shapes === null || Array.isArray(shapes))) {
    throw new TrtexecUsageError('shapes must be an object mapping input names to a shape array or {min, opt, max}.');
  }
  const entries = Object.entries(shapes ?? {});
  const seen = new Map<string, string>();
  const fixed: Array<[string, Dims]> = [];
  const ranged: Array<[string, ShapeRange]> = [];
  const all: Array<[string, ShapeRange, boolean]> = [];
  for (const [name, spec] of entries) {
    // A name may arrive pre-quoted; trtexec strips the quotes, so "x" and "'x'" are the same input.
    const bare = unquote(name);
    const quoted = quoteTensorName(bare);
    const previous = seen.get(bare);
    if (previous !== undefined) {
      const kinds = [shapesOf(shapes, previous), isShapeRange(spec) ? 'a range' : 'a fixed shape'];
      throw new TrtexecUsageError(
        kinds[0] !== kinds[1]
          ? `shapes: input "${bare}" is given both a fixed shape and a range (as "${previous}" and "${name}"); give one or the other.`
          : `shapes: input "${bare}" is given twice (as "${previous}" and "${name}").`,
      );
    }
    seen.set(bare, name);
    if (spec === undefined || spec === null) {
      throw new TrtexecUsageError(`shapes: input "${name}" has no shape.`);
    }
    if (isShapeRange(spec)) {
      const range = checkRange(name, spec);
      ranged.push([quoted, range]);
      all.push([quoted, range, false]);
    } else {
      const dims = checkDims(name, 'the shape', spec);
      fixed.push([quoted, dims]);
      all.push([quoted, { min: dims, opt: dims, max: dims }, true]);
    }
  }

  const inference = Object.entries(inferenceShapes ?? {});
  if (inference.length > 0 && ranged.length === 0) {
    throw new TrtexecUsageError(
      'inferenceShapes only applies to inputs built with a {min, opt, max} range; with fixed shapes trtexec benchmarks at those shapes.',
    );
  }

  if (ranged.length === 0) {
    if (fixed.length === 0) return [];
    return [`--shapes=${fixed.map(([n, d]) => `${n}:${dimsText(d)}`).join(',')}`];
  }

  const flags = [
    `--minShapes=${all.map(([n, r]) => `${n}:${dimsText(r.min)}`).join(',')}`,
    `--optShapes=${all.map(([n, r]) => `${n}:${dimsText(r.opt)}`).join(',')}`,
    `--maxShapes=${all.map(([n, r]) => `${n}:${dimsText(r.max)}`).join(',')}`,
  ];
  if (inference.length > 0) {
    const parts: string[] = [];
    for (const [name, dimsIn] of inference) {
      const quoted = quoteTensorName(unquote(name));
      const target = all.find(([n]) => n === quoted);
      if (!target) {
        throw new TrtexecUsageError(`inferenceShapes: input "${name}" is not in shapes; give it a {min, opt, max} range there.`);
      }
      const [, range, isFixed] = target;
      if (isFixed) {
        throw new TrtexecUsageError(
          `inferenceShapes: input "${name}" has a fixed shape in shapes (${dimsText(range.opt)}); a fixed shape and a run shape for the same input contradict each other — give it a {min, opt, max} range instead.`,
        );
      }
      const dims = checkDims(name, 'the inference shape', dimsIn);
      if (dims.length !== range.min.length) {
        throw new TrtexecUsageError(
          `inferenceShapes: input "${name}" has rank ${dims.length} but its range has rank ${range.min.length}.`,
        );
      }
      dims.forEach((d, i) => {
        if (d < range.min[i]! || d > range.max[i]!) {
          throw new TrtexecUsageError(
            `inferenceShapes: input "${name}" ${dimsText(dims)} is outside its range ${dimsText(range.min)} … ${dimsText(range.max)} at dimension ${i}.`,
          );
        }
      });
      parts.push(`${quoted}:${dimsText(dims)}`);
    }
    flags.push(`--shapes=${parts.join(',')}`);
  }
  return flags;
}

function workspaceFlags(options: BuildOptions, version: TrtVersionHint): string[] {
  if (options.workspaceMiB === undefined) return [];
  const mib = positiveInt(options.workspaceMiB, 'workspaceMiB', ' (MiB)');
  if (version.major >= 10) return [`--memPoolSize=workspace:${mib}M`];
  // --memPoolSize arrived in 8.4 (values in MiB, no unit suffix); --workspace works in every 8.x.
  if (atLeast(version, 8, 4) === true) return [`--memPoolSize=workspace:${mib}`];
  return [`--workspace=${mib}`];
}

function flagName(arg: string): string {
  const eq = arg.indexOf('=');
  return eq < 0 ? arg : arg.slice(0, eq);
}

function checkExtraArgs(extra: readonly string[], stronglyTyped: boolean): string[] {
  if (!Array.isArray(extra)) throw new TrtexecUsageError('extraArgs must be an array of strings.');
  const seen = new Set<string>();
  for (const arg of extra) {
    if (typeof arg !== 'string' || !arg.startsWith('-') || arg === '-' || arg === '--') {
      throw new TrtexecUsageError(
        `extraArgs: ${JSON.stringify(arg)} is not a trtexec flag; every extra argument must be a single "--flag" or "--flag=value" (no separate values).`,
      );
    }
    const name = flagName(arg);
    const managedBy = MANAGED_FLAGS[name];
    if (managedBy !== undefined) {
      throw new TrtexecUsageError(`extraArgs: ${name} is managed by this module; use ${managedBy} instead of passing "${arg}".`);
    }
    if (stronglyTyped && WEAK_TYPE_FLAGS.has(name)) {
      throw new TrtexecUsageError(
        `extraArgs: ${name} cannot be used with precision 'stronglyTyped' (TensorRT ignores precision flags in a strongly typed network).`,
      );
    }
    if (seen.has(name) && !REPEATABLE_FLAGS.has(name)) {
      throw new TrtexecUsageError(`extraArgs: ${name} is given twice; trtexec would reject the second one as an unknown option.`);
    }
    seen.add(name);
  }
  return [...extra];
}

/**
 * The exact trtexec argument vector for building (and, unless skipped, benchmarking) an engine
 * from `onnxPath`. Throws `TrtexecUsageError` for any contradiction.
 */
export function buildTrtexecArgs(onnxPath: string, options: BuildOptions = {}): string[] {
  nonEmptyPath(onnxPath, 'onnxPath');
  const version = parseTrtVersionHint(options.trtVersion);
  const args: string[] = [`--onnx=${onnxPath}`];

  const precision = precisionFlags(options, version);
  args.push(...precision);
  args.push(...shapeFlags(options));
  args.push(...workspaceFlags(options, version));

  if (options.saveEngine !== undefined) {
    const engine = nonEmptyPath(options.saveEngine, 'saveEngine');
    if (engine === onnxPath) throw new TrtexecUsageError('saveEngine is the ONNX model path itself; the engine would overwrite the model.');
    args.push(`--saveEngine=${engine}`);
  }

  const layerInfo = options.exportLayerInfo === undefined ? undefined : nonEmptyPath(options.exportLayerInfo, 'exportLayerInfo');
  const profile = options.exportProfile === undefined ? undefined : nonEmptyPath(options.exportProfile, 'exportProfile');
  if (layerInfo !== undefined && layerInfo === profile) {
    throw new TrtexecUsageError('exportLayerInfo and exportProfile name the same file; give them different paths.');
  }
  for (const [label, file] of [['exportLayerInfo', layerInfo], ['exportProfile', profile]] as const) {
    if (file !== undefined && (file === onnxPath || file === options.saveEngine)) {
      throw new TrtexecUsageError(`${label} would overwrite ${file === onnxPath ? 'the ONNX model' : 'the saved engine'}.`);
    }
  }
  if (layerInfo !== undefined && atLeast(version, 8, 4) === false) {
    throw new TrtexecUsageError(`exportLayerInfo needs TensorRT 8.4 or newer (trtVersion is ${version.text}).`);
  }
  const verbosity = options.profilingVerbosity;
  if (verbosity !== undefined && !['layer_names_only', 'detailed', 'none'].includes(verbosity)) {
    throw new TrtexecUsageError(`profilingVerbosity must be layer_names_only, detailed or none, got ${JSON.stringify(verbosity)}.`);
  }
  if (layerInfo !== undefined || profile !== undefined) {
    if (verbosity !== undefined && verbosity !== 'detailed') {
      throw new TrtexecUsageError(
        `profilingVerbosity '${verbosity}' contradicts ${layerInfo !== undefined ? 'exportLayerInfo' : 'exportProfile'}, which needs 'detailed' (layer formats and precisions are only recorded then).`,
      );
    }
    args.push('--profilingVerbosity=detailed');
  } else if (verbosity !== undefined) {
    args.push(`--profilingVerbosity=${verbosity}`);
  }
  if (layerInfo !== undefined) args.push(`--exportLayerInfo=${layerInfo}`);
  if (profile !== undefined) args.push(`--exportProfile=${profile}`, '--separateProfileRun');

  if (options.skipInference) {
    const inferenceOnly: Array<[string, unknown]> = [
      ['exportProfile', options.exportProfile],
      ['inferenceShapes', options.inferenceShapes && Object.keys(options.inferenceShapes).length > 0 ? options.inferenceShapes : undefined],
      ['useCudaGraph', options.useCudaGraph || undefined],
      ['useSpinWait', options.useSpinWait || undefined],
      ['noDataTransfers', options.noDataTransfers || undefined],
      ['duration', options.duration],
      ['iterations', options.iterations],
      ['warmUp', options.warmUp],
      ['avgRuns', options.avgRuns],
    ];
    const clashing = inferenceOnly.filter(([, v]) => v !== undefined).map(([k]) => k);
    if (clashing.length > 0) {
      throw new TrtexecUsageError(
        `skipInference contradicts ${clashing.join(', ')}: ${clashing.length === 1 ? 'it only applies' : 'they only apply'} to the benchmark run, which skipInference removes${clashing.includes('exportProfile') ? ' (no per-layer profile can be recorded without inference)' : ''}.`,
      );
    }
    const modern = atLeast(version, 8, 6);
    if (modern === undefined) {
      throw new TrtexecUsageError(
        `trtVersion "${version.text}" is ambiguous for skipInference (--buildOnly before 8.6, --skipInference from 8.6); give the minor version, e.g. "8.6".`,
      );
    }
    args.push(modern ? '--skipInference' : '--buildOnly');
  }

  if (options.useCudaGraph) args.push('--useCudaGraph');
  if (options.useSpinWait) args.push('--useSpinWait');
  if (options.noDataTransfers) args.push('--noDataTransfers');
  if (options.warmUp !== undefined) {
    if (typeof options.warmUp !== 'number' || !Number.isInteger(options.warmUp) || options.warmUp < 0) {
      throw new TrtexecUsageError(`warmUp must be a non-negative integer (milliseconds), got ${JSON.stringify(options.warmUp)}.`);
    }
    args.push(`--warmUp=${options.warmUp}`);
  }
  if (options.iterations !== undefined) args.push(`--iterations=${positiveInt(options.iterations, 'iterations')}`);
  if (options.duration !== undefined) {
    args.push(`--duration=${positiveInt(options.duration, 'duration', ' (seconds; trtexec -1 = run forever is not supported here)')}`);
  }
  if (options.avgRuns !== undefined) args.push(`--avgRuns=${positiveInt(options.avgRuns, 'avgRuns')}`);

  args.push(...checkExtraArgs(options.extraArgs ?? [], precision.includes('--stronglyTyped')));
  return args;
}

/** Quotes one argument for a POSIX shell (for display / copy-paste only; runs never use a shell). */
export function shellQuote(arg: string): string {
  if (arg.length > 0 && /^[A-Za-z0-9_\-+=.,/:@%]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** A copy-pasteable command line: `trtexec --onnx=model.onnx --best …`. */
export function formatCommand(trtexecPath: string, args: readonly string[]): string {
  return [trtexecPath, ...args].map(shellQuote).join(' ');
}
