/**
 * The library functions behind the CLI commands, callable in-process: quantizeModel
 * (load → transform → insertQdq → calibrate → save), inspectModel, runConfig, and the
 * backend build / check steps. Commands only parse arguments and print.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { calibrate } from '../calibrate/calibrate.js';
import { openCalibrationData, type CalibrationDataOptions } from '../calibrate/data/open.js';
import { toForwardLoop } from '../calibrate/data/forward-loop.js';
import { modelInputsOf, type ModelInputInfo } from '../calibrate/data/validate.js';
import type { CalibrationSettings, QuantSettings, ResolvedConfig } from '../config/types.js';
import { displayPath } from '../config/load.js';
import { benchmarkModel, evaluateModel, formatBenchReport, formatEvalReport, type BenchReport, type EvalReport } from '../evaluate/index.js';
import type { Model } from '../ir/model.js';
import { loadModel } from '../onnx/load.js';
import { saveModel } from '../onnx/save.js';
import { countMatches, transform } from '../patterns/transform.js';
import type { Pattern, PatternMatch } from '../patterns/pattern.js';
import { backendPatterns, type Backend, type BuildReport, type CheckFinding } from '../plugins/backend.js';
import { ensureCalibrator, firstLine, isPluginError, loadBackend, loadPlugins } from '../plugins/load.js';
import type { QuantConfigInput } from '../quantize/config.js';
import { insertQdq } from '../quantize/insert-qdq.js';
import { isSameFile } from '../util/atomic-write.js';
import { ModelInputError, UsageError } from './errors.js';
import { formatBytes, formatCounts, formatSeconds, formatShape, plural, table } from './format.js';

/** Where plugins come from and how the user is told things. */
export interface PipelineContext {
  /** Folder the backend and plugins resolve from (a config file's folder; default: the working directory). */
  from?: string;
  /** Plugins to load before the backend (package names or paths). */
  plugins?: readonly string[];
  /** Warnings and notes for the user (default: stderr). */
  log?: (line: string) => void;
}

export interface QuantizeModelOptions extends PipelineContext {
  /** The FP32 ONNX model. */
  model: string;
  /** Where the QDQ model goes (never over `model`). */
  output: string;
  /** Backend name, package or path (default "tensorrt"). */
  backend?: string;
  /** Backend-specific pattern options (Backend.patternsFor). */
  backendOptions?: Record<string, unknown>;
  /** Quantization settings over the backend's defaults. */
  quant?: QuantSettings;
  /** Calibration data and method; null/undefined saves placeholder scales (with a warning). */
  calibration?: CalibrationSettings | null;
  /** Progress display during calibration (default: on a terminal). */
  progress?: boolean;
}

export interface QuantizeSummary {
  model: string;
  output: string;
  outputBytes: number;
  backend: string;
  nodes: { before: number; after: number };
  /** Conversion rewrites applied, by pattern. */
  conversions: Record<string, number>;
  /** Fusion matches by pattern (table order of first appearance). */
  matches: Record<string, number>;
  quantizers: { QuantStub: number; WeightFakeQuantize: number };
  /** Nodes no fusion claimed, by op type. */
  unmatched: Record<string, number>;
  calibration: { method: string; inputMethod: string | null; data: string; batches: number; samples: number; seconds: number } | null;
  seconds: { load: number; transform: number; insertQdq: number; calibrate: number; save: number; total: number };
}

const log0 = (line: string) => process.stderr.write(`${line}\n`);

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

/** Loads the context's plugins, then the backend. */
export async function prepareBackend(spec: string, ctx: PipelineContext = {}): Promise<Backend> {
  if (ctx.plugins?.length) await loadPlugins(ctx.plugins, { from: ctx.from });
  return loadBackend(spec, { from: ctx.from });
}

/**
 * Opens the model in onnxruntime once, so a file that decodes as ONNX but is not a valid
 * model is reported as bad input (exit 2) before any work; returns its inputs.
 */
export async function validateModelFile(file: string): Promise<ModelInputInfo[]> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(file, { graphOptimizationLevel: 'disabled', logSeverityLevel: 4 });
  } catch (err) {
    throw new ModelInputError(`${displayPath(file)}: not a valid model, onnxruntime cannot load it: ${firstLine(err)}`, { cause: err });
  }
  try {
    return modelInputsOf(session);
  } finally {
    await session.release().catch(() => {});
  }
}

/** Loads an ONNX model, as bad input (exit 2) when it cannot be. */
export function loadInputModel(file: string): Model {
  return loadModel(file);
}

/** Refuses an output path that is the input model (or another input), or a folder. */
export async function checkOutputPath(output: string, inputs: readonly (string | undefined)[]): Promise<void> {
  const abs = path.resolve(output);
  for (const input of inputs) {
    if (input !== undefined && (await isSameFile(abs, input))) {
      throw new UsageError(`refusing to write ${displayPath(abs)}: it is the input ${displayPath(input)}; choose another output path`);
    }
  }
  const st = await fsp.stat(abs).catch(() => undefined);
  if (st?.isDirectory()) throw new UsageError(`output ${displayPath(abs)} is a folder; give a file name (e.g. ${path.join(displayPath(abs), 'model.int8.onnx')})`);
}

/** The external-data files a model's weights live in (never to be overwritten either). */
function externalDataFiles(m: Model): string[] {
  const files = new Set<string>();
  for (const v of m.graph.initializers()) {
    const ref = v.initializer?.externalRef;
    if (ref) files.add(ref.file);
  }
  return [...files];
}

function dataOptions(c: CalibrationSettings, modelInputs: readonly ModelInputInfo[]): CalibrationDataOptions {
  const o: CalibrationDataOptions = { modelInputs };
  if (c.batchSize !== undefined) o.batchSize = c.batchSize;
  if (c.limit !== undefined) o.limit = c.limit;
  if (c.inputName !== undefined) o.inputName = c.inputName;
  if (c.kind !== undefined) o.kind = c.kind;
  if (c.sampleRank !== undefined) o.sampleRank = c.sampleRank;
  if (c.normalize !== undefined) o.normalize = c.normalize;
  if (c.image) Object.assign(o, c.image);
  return o;
}

function byOpType(nodes: readonly { opType: string }[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const n of nodes) c[n.opType] = (c[n.opType] ?? 0) + 1;
  return Object.fromEntries(Object.entries(c).sort(([a, x], [b, y]) => y - x || a.localeCompare(b)));
}

/**
 * The method for stubs on the model's own inputs: the config's `inputMethod`, else
 * "minmax" (from @qdeploy/calibrators; when that is not installed, the main method).
 */
async function inputCalibrator(
  quantized: { stubs(): { tensor: unknown }[]; model: Model },
  cal: CalibrationSettings,
  method: string,
  from: string | undefined,
  log: (line: string) => void,
): Promise<string | null> {
  const inputs = new Set<unknown>(quantized.model.graph.inputs);
  if (!quantized.stubs().some((s) => inputs.has(s.tensor))) return null;
  if (cal.inputMethod === null || cal.inputMethod === method) return null;
  if (cal.inputMethod !== undefined) {
    await ensureCalibrator(cal.inputMethod, { from });
    return cal.inputMethod;
  }
  try {
    await ensureCalibrator('minmax', { from });
    return 'minmax';
  } catch (err) {
    if (!isPluginError(err) || err.kind !== 'not-found') throw err;
    log(`qdeploy: note: @qdeploy/calibrators is not installed: the model inputs are calibrated with "${method}" too (set calibration.inputMethod to choose)`);
    return null;
  }
}

/** The backend's patterns with the user's backend options; a bad option is a usage error. */
function configuredPatterns(backend: Backend, options: Record<string, unknown> | undefined): readonly Pattern[] {
  try {
    return backendPatterns(backend, options);
  } catch (e) {
    throw new UsageError(`backendOptions: ${(e as Error).message}`);
  }
}

/** The whole pipeline on one model: load → transform → insertQdq → calibrate → save. */
export async function quantizeModel(options: QuantizeModelOptions): Promise<QuantizeSummary> {
  const t0 = performance.now();
  const log = options.log ?? log0;
  const model = path.resolve(options.model);
  const output = path.resolve(options.output);
  const cal = options.calibration ?? null;
  const data = cal ? path.resolve(cal.data) : undefined;
  await checkOutputPath(output, [model, data]);

  const backend = await prepareBackend(options.backend ?? 'tensorrt', options);
  const method = cal?.method ?? backend.defaultCalibrator ?? 'mse';
  if (cal) await ensureCalibrator(method, { from: options.from });

  const m = loadInputModel(model);
  await checkOutputPath(output, externalDataFiles(m));
  const modelInputs = await validateModelFile(model);
  const source = cal ? await openCalibrationData(data!, dataOptions(cal, modelInputs)) : undefined;
  const t1 = performance.now();

  const result = transform(m, { patterns: configuredPatterns(backend, options.backendOptions) });
  const t2 = performance.now();
  const quantized = insertQdq(result.model, result.matches, { config: mergeQuantConfig(backend.quantConfig, options.quant) });
  const t3 = performance.now();

  let calibration: QuantizeSummary['calibration'] = null;
  if (source && cal) {
    const inputMethod = await inputCalibrator(quantized, cal, method, options.from, log);
    const r = await calibrate(quantized, toForwardLoop(source, { modelInputs }), {
      calibrator: method,
      inputCalibrator: inputMethod,
      calibratorOptions: cal.options,
      limit: cal.limit,
      progress: options.progress === false ? false : { total: source.totalSamples },
    });
    calibration = { method: r.method, inputMethod, data: data!, batches: r.batches, samples: r.samples, seconds: r.seconds };
  } else if (quantized.stubs().length > 0) {
    log(`qdeploy: warning: no calibration data: the ${quantized.stubs().length} activation quantizers keep placeholder scales (1.0); give --calib <data> before deploying`);
  }
  const t4 = performance.now();

  await fsp.mkdir(path.dirname(output), { recursive: true });
  const exported = quantized.toExportModel({ quiet: true });
  await saveModel(exported, output, { protect: [model, ...(data ? [data] : [])] });
  const t5 = performance.now();
  const outputBytes = fs.statSync(output).size;

  const s = (a: number, b: number) => (b - a) / 1000;
  return {
    model,
    output,
    outputBytes,
    backend: backend.name,
    nodes: { before: m.graph.nodes.length, after: result.model.graph.nodes.length },
    conversions: result.conversions,
    matches: countMatches(result.matches),
    quantizers: quantized.counts(),
    unmatched: byOpType(result.unmatched),
    calibration,
    seconds: { load: s(t0, t1), transform: s(t1, t2), insertQdq: s(t2, t3), calibrate: s(t3, t4), save: s(t4, t5), total: s(t0, t5) },
  };
}

/** The closing summary of a quantize run. */
export function formatQuantizeSummary(r: QuantizeSummary): string {
  const matchTotal = Object.values(r.matches).reduce((a, b) => a + b, 0);
  const unmatchedTotal = Object.values(r.unmatched).reduce((a, b) => a + b, 0);
  const conv = Object.keys(r.conversions).length ? formatCounts(r.conversions, ', ', ' ×') : 'none';
  const rows: [string, string][] = [
    ['model', `${displayPath(r.model)} (${r.nodes.before} nodes → ${r.nodes.after} after conversions)`],
    ['backend', r.backend],
    ['conversions', conv],
    ['matches', `${matchTotal}: ${formatCounts(r.matches)}`],
    ['quantizers', `${plural(r.quantizers.QuantStub, 'QuantStub')} (activations), ${plural(r.quantizers.WeightFakeQuantize, 'WeightFakeQuantize', 'WeightFakeQuantizes')} (weights)`],
    ['unmatched', unmatchedTotal ? `${plural(unmatchedTotal, 'node')}: ${formatCounts(r.unmatched)}` : 'none'],
    [
      'calibration',
      r.calibration
        ? `${r.calibration.method} on ${plural(r.calibration.samples, 'sample')} (${plural(r.calibration.batches, 'batch', 'batches')}) in ${formatSeconds(r.calibration.seconds)}` +
          (r.calibration.inputMethod ? `; model inputs: ${r.calibration.inputMethod}` : '')
        : 'none (placeholder activation scales)',
    ],
    ['output', `${displayPath(r.output)} (${formatBytes(r.outputBytes)})`],
    [
      'time',
      `${formatSeconds(r.seconds.total)} (load ${formatSeconds(r.seconds.load)}, transform ${formatSeconds(r.seconds.transform)}, insertQdq ${formatSeconds(r.seconds.insertQdq)}, calibrate ${formatSeconds(r.seconds.calibrate)}, save ${formatSeconds(r.seconds.save)})`,
    ],
  ];
  return `quantized for ${r.backend}\n${table(rows)}`;
}

// ---------------------------------------------------------------- inspect

export interface InspectOptions extends PipelineContext {
  backend?: string;
  backendOptions?: Record<string, unknown>;
  quant?: QuantSettings;
}

export interface InspectReport {
  model: string;
  backend: string;
  nodes: { before: number; after: number };
  opCounts: Record<string, number>;
  opCountsAfter: Record<string, number>;
  conversions: Record<string, number>;
  /** Matches by pattern, with the QDQ points the pattern declares. */
  patterns: { pattern: string; count: number; qdqPoints: string[]; weights: boolean }[];
  matches: { pattern: string; anchor: string; nodes: string[]; qdqPoints: string[]; roles: Record<string, string> }[];
  quantStubs: { tensor: string; producer: string | null; shape: string; for: { pattern: string; anchor: string; role: string }[]; feeds: string[] }[];
  weightQuantizers: { tensor: string; shape: number[]; axis: number | null; channels: number; perChannel: boolean; for: { pattern: string; anchor: string; node: string }[] }[];
  unmatched: { byOpType: Record<string, number>; nodes: { name: string; opType: string }[] };
  counts: { QuantStub: number; WeightFakeQuantize: number };
}

function nodeName(n: { name: string; opType: string }): string {
  return n.name || `<${n.opType}>`;
}

/** What the backend's patterns make of a model: matches, QDQ placement, leftovers. */
export async function inspectModel(modelPath: string, options: InspectOptions = {}): Promise<InspectReport> {
  const backend = await prepareBackend(options.backend ?? 'tensorrt', options);
  const m = loadInputModel(modelPath);
  const result = transform(m, { patterns: configuredPatterns(backend, options.backendOptions) });
  const q = insertQdq(result.model, result.matches, { config: mergeQuantConfig(backend.quantConfig, options.quant) });
  const label = (mt: PatternMatch) => ({ pattern: mt.pattern.name, anchor: nodeName(mt.anchor) });

  const patterns: InspectReport['patterns'] = [];
  for (const [name, count] of Object.entries(countMatches(result.matches))) {
    const p = result.matches.find((x) => x.pattern.name === name)!.pattern;
    patterns.push({ pattern: name, count, qdqPoints: [...p.qdqPoints], weights: p.weights.length > 0 });
  }
  return {
    model: path.resolve(modelPath),
    backend: backend.name,
    nodes: { before: m.graph.nodes.length, after: result.model.graph.nodes.length },
    opCounts: m.graph.opCounts(),
    opCountsAfter: result.model.graph.opCounts(),
    conversions: result.conversions,
    patterns,
    matches: result.matches.map((mt) => ({
      ...label(mt),
      nodes: mt.nodes.map(nodeName),
      qdqPoints: [...mt.qdqPoints],
      roles: Object.fromEntries(Object.entries(mt.roles).map(([k, v]) => [k, v.name])),
    })),
    quantStubs: q.stubs().map((s) => ({
      tensor: s.tensor.name,
      producer: s.tensor.producer ? nodeName(s.tensor.producer) : null,
      shape: formatShape(s.tensor.shape),
      for: s.matches.map((mt) => ({
        ...label(mt),
        role: mt.qdqPoints.find((pt) => mt.roles[pt] === s.tensor) ?? '?',
      })),
      feeds: s.uses.map((u) => `${nodeName(u.node)}#${u.index}`),
    })),
    weightQuantizers: q.weightQuantizers().map((w) => ({
      tensor: w.tensor.name,
      shape: [...(w.tensor.constant()?.dims ?? [])],
      axis: w.axis,
      channels: w.scale.length,
      perChannel: w.axis !== null,
      for: w.matches.map((mt) => ({
        ...label(mt),
        node: nodeName(mt.nodes.find((n) => n.inputs.includes(w.tensor)) ?? mt.anchor),
      })),
    })),
    unmatched: { byOpType: byOpType(result.unmatched), nodes: result.unmatched.map((n) => ({ name: nodeName(n), opType: n.opType })) },
    counts: q.counts(),
  };
}

function cut(s: string, n = 48): string {
  return s.length <= n ? s : `…${s.slice(s.length - n + 1)}`;
}

/** The inspect report as readable tables. */
export function formatInspectReport(r: InspectReport): string {
  const out: string[] = [];
  out.push(`${displayPath(r.model)}: ${r.nodes.before} nodes, backend ${r.backend}`);
  out.push('');
  out.push(`ops: ${formatCounts(r.opCounts)}`);
  out.push(
    `conversions: ${Object.keys(r.conversions).length ? formatCounts(r.conversions, ', ', ' ×') : 'none'}` +
      (r.nodes.after !== r.nodes.before ? ` → ${r.nodes.after} nodes: ${formatCounts(r.opCountsAfter)}` : ''),
  );
  out.push('');
  const total = r.patterns.reduce((a, p) => a + p.count, 0);
  out.push(`matches (${total})`);
  out.push(
    r.patterns.length
      ? table(
          r.patterns.map((p) => [p.pattern, p.count, p.qdqPoints.length ? p.qdqPoints.join(', ') : '— (runs in float)', p.weights ? 'yes' : 'no']),
          ['pattern', 'count', 'quantized inputs', 'weights'],
        )
      : '  none',
  );
  out.push('');
  out.push(`QuantStub (${r.counts.QuantStub}): activation tensors that get Q→DQ, and the matches that asked`);
  out.push(
    r.quantStubs.length
      ? table(
          r.quantStubs.map((s) => [cut(s.tensor), s.producer ? cut(s.producer, 32) : '(graph input)', s.for.map((f) => `${f.pattern} ${f.role} @ ${cut(f.anchor, 40)}`).join('; ')]),
          ['tensor', 'produced by', 'for (pattern role @ anchor)'],
        )
      : '  none',
  );
  out.push('');
  out.push(`WeightFakeQuantize (${r.counts.WeightFakeQuantize}): weights quantized ahead of time`);
  out.push(
    r.weightQuantizers.length
      ? table(
          r.weightQuantizers.map((w) => [
            cut(w.tensor),
            formatShape(w.shape),
            w.axis === null ? 'tensor' : `axis ${w.axis}`,
            w.channels,
            w.for.map((f) => `${f.pattern} @ ${cut(f.node, 40)}`).join('; '),
          ]),
          ['weight', 'shape', 'scales', 'channels', 'for (pattern @ node)'],
        )
      : '  none',
  );
  out.push('');
  const un = r.unmatched.nodes.length;
  out.push(`unmatched (${un}): nodes no pattern claimed (they run as the backend decides, without Q/DQ)`);
  if (un) {
    out.push(
      table(
        Object.entries(r.unmatched.byOpType).map(([op, n]) => {
          const names = r.unmatched.nodes.filter((x) => x.opType === op).map((x) => x.name);
          return [op, n, names.slice(0, 4).join(', ') + (names.length > 4 ? `, … (${names.length - 4} more)` : '')];
        }),
        ['op', 'count', 'nodes'],
      ),
    );
  } else {
    out.push('  none');
  }
  return out.join('\n');
}

// ---------------------------------------------------------------- build / check

/** Runs the backend's builder; exit 2 when the backend has none. */
export async function buildWithBackend(backend: Backend, onnxPath: string, options: Record<string, unknown>): Promise<BuildReport> {
  if (typeof backend.build !== 'function') throw new UsageError(`backend ${backend.name} has no builder`);
  if (!fs.existsSync(onnxPath)) throw new UsageError(`${displayPath(onnxPath)}: no such file`);
  return backend.build(onnxPath, options);
}

export interface CheckReport {
  model: string;
  backend: string;
  findings: CheckFinding[];
  counts: { error: number; warning: number; info: number };
}

/** Runs the backend's placement checker on a (QDQ) model. */
export async function checkModel(modelPath: string, options: PipelineContext & { backend?: string } = {}): Promise<CheckReport> {
  const backend = await prepareBackend(options.backend ?? 'tensorrt', options);
  if (typeof backend.check !== 'function') throw new UsageError(`backend ${backend.name} has no checker`);
  const m = loadInputModel(modelPath);
  const findings = backend.check(m);
  const counts = { error: 0, warning: 0, info: 0 };
  for (const f of findings) counts[f.severity] = (counts[f.severity] ?? 0) + 1;
  return { model: path.resolve(modelPath), backend: backend.name, findings, counts };
}

export function formatCheckReport(r: CheckReport): string {
  const head = `${displayPath(r.model)}: ${plural(r.counts.error, 'error')}, ${plural(r.counts.warning, 'warning')}, ${r.counts.info} info (backend ${r.backend})`;
  if (!r.findings.length) return `${head}\n  no findings: the placement follows the backend's rules`;
  const order = { error: 0, warning: 1, info: 2 } as const;
  const sorted = [...r.findings].sort((a, b) => order[a.severity] - order[b.severity]);
  return `${head}\n${table(sorted.map((f) => [f.severity, f.code, f.node ?? '', f.message]), ['severity', 'code', 'node', 'message'])}`;
}

// ---------------------------------------------------------------- run (config file)

export interface RunOptions {
  progress?: boolean;
  /** Run the build step when the config has one (default true). */
  build?: boolean;
  /** Run the evaluation step when the config has one (default true). */
  evaluate?: boolean;
  /** Run the bench step when the config has one (default true). */
  bench?: boolean;
  log?: (line: string) => void;
  /** Called after each step with its printable report. */
  onStep?: (step: 'quantize' | 'build' | 'evaluate' | 'bench', text: string) => void;
}

export interface RunReport {
  config: string;
  quantize: QuantizeSummary;
  build?: BuildReport;
  evaluation?: EvalReport;
  bench?: { quantized: BenchReport; fp32?: BenchReport; speedup?: number };
}

export function formatBuildReport(r: BuildReport): string {
  return [...r.summary, ...(r.output ? [`artifact    ${displayPath(r.output)}`] : [])].join('\n');
}

/** Everything a config file asks for: quantize, then the optional build, evaluation and bench. */
export async function runConfig(config: ResolvedConfig, options: RunOptions = {}): Promise<RunReport> {
  const ctx: PipelineContext = { from: config.dir, plugins: config.plugins, log: options.log };
  const quantize = await quantizeModel({
    ...ctx,
    model: config.model,
    output: config.output,
    backend: config.backend,
    backendOptions: config.backendOptions,
    quant: config.quant,
    calibration: config.calibration ?? null,
    progress: options.progress,
  });
  options.onStep?.('quantize', formatQuantizeSummary(quantize));
  const report: RunReport = { config: config.file, quantize };

  if (config.build && config.build.enabled !== false && options.build !== false) {
    const backend = await prepareBackend(config.backend, ctx);
    const { enabled: _enabled, ...buildOptions } = config.build;
    report.build = await buildWithBackend(backend, config.output, { cwd: config.dir, ...buildOptions });
    options.onStep?.('build', formatBuildReport(report.build));
  }
  if (config.evaluate && options.evaluate !== false) {
    const e = config.evaluate;
    const ref = e.ref === false ? undefined : e.ref ?? config.model;
    await validateModelFile(config.output);
    report.evaluation = await evaluateModel(config.output, {
      data: e.data,
      labels: e.labels,
      ...(ref !== undefined ? { ref } : {}),
      ...(e.batchSize !== undefined ? { batchSize: e.batchSize } : {}),
      ...(e.limit !== undefined ? { limit: e.limit } : {}),
      ...(options.progress !== undefined ? { progress: options.progress } : {}),
    });
    options.onStep?.('evaluate', formatEvalReport(report.evaluation));
  }
  if (config.bench && options.bench !== false) {
    const { compare, ...b } = config.bench;
    const quantized = await benchmarkModel(config.output, b);
    const bench: NonNullable<RunReport['bench']> = { quantized };
    if (compare) {
      bench.fp32 = await benchmarkModel(config.model, b);
      bench.speedup = bench.fp32.latencyMs.mean / quantized.latencyMs.mean;
    }
    report.bench = bench;
    let text = formatBenchReport(quantized);
    if (bench.fp32) text += `\n\nFP32 reference:\n${formatBenchReport(bench.fp32)}\n\nspeed-up    ${bench.speedup!.toFixed(2)}× (mean latency, FP32 / INT8)`;
    options.onStep?.('bench', text);
  }
  return report;
}
