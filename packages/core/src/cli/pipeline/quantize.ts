/** `qdeploy quantize`: the whole pipeline on one model, and its closing summary. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { openCalibrationData } from '../../calibrate/data/open.js';
import { toForwardLoop } from '../../calibrate/data/forward-loop.js';
import type { CalibrationSettings, ExportSettings, QatSettings, QuantSettings } from '../../config/types.js';
import { measureFloatRanges } from '../../precision/measure.js';
import { toStronglyTyped, type StronglyTypedReport } from '../../precision/strongly-typed.js';
import { displayPath } from '../../config/load.js';
import { saveModel } from '../../onnx/save.js';
import { countMatches } from '../../patterns/transform.js';
import { loadedPlugins } from '../../plugins/load.js';
import { matchId } from '../../quantize/exclude.js';
import type { CalibrationResult } from '../../calibrate/calibrate.js';
import { histogramsFor, writeRunReport } from './report.js';
import { formatBytes, formatCounts, formatSeconds, plural, table } from '../format.js';
import { dataOptions } from './calibration.js';
import { byOpType, type PipelineContext } from './context.js';
import { externalDataFiles } from '../../onnx/external-data.js';
import { checkOutputPath } from './model-files.js';
import { calibratePlacement, placeModel, warnPlaceholderScales } from './calibrated.js';
import { applyCalibrationFile } from './calibration-file.js';
import { UsageError } from '../errors.js';
import { formatQatReport, openQatData, runQat, type QatReport } from './train.js';

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
  /** A calibration file (qdeploy calibrate / merge-calibration) to apply instead of running `calibration`'s data. */
  calibrationFile?: string;
  /** Calibrator options that recompute the ranges from the file's states (e.g. another percentile); default: the file's. */
  calibrationFileOptions?: Record<string, unknown>;
  /** Float regions in FP16 / BF16 for a strongly typed build (default: FP32). */
  export?: ExportSettings;
  /** More inputs the output must never overwrite (a config file, evaluation data and labels, a reference model). */
  protect?: readonly (string | undefined)[];
  /** Quantize weights holding NaN or ±Inf (with a warning) instead of refusing the model. */
  allowNonFinite?: boolean;
  /** Also write an HTML report here (graph with the placement, histograms, summary). */
  report?: string;
  /** Quantization-aware training after calibration. */
  qat?: QatSettings;
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
  /** Matches kept in float by quant.exclude, with the rule that caught each. */
  excluded: { id: string; pattern: string; rule: string }[];
  /** Nodes no fusion claimed, by op type. */
  unmatched: Record<string, number>;
  calibration: {
    method: string;
    inputMethod: string | null;
    data: string;
    /** What was done to the data's values as they were read (image folders, .npy with a normalisation). */
    normalization?: string;
    batches: number;
    samples: number;
    seconds: number;
  } | null;
  /** The strongly typed export (absent when the float regions stay FP32). */
  float?: StronglyTypedReport;
  qat?: QatReport;
  /** `calibrate` is calibration alone; `train` (with QAT) the training that follows it; `save` includes the export. */
  seconds: { load: number; transform: number; insertQdq: number; calibrate: number; train?: number; save: number; total: number };
  /** The HTML report, when one was asked for. */
  report?: string;
}

const log0 = (line: string) => process.stderr.write(`${line}\n`);

type PlacedForQuantize = Awaited<ReturnType<typeof placeQuantizers>>;

/** placeModel with the output path checked against every input first (quantize and calibrate). */
export async function placeQuantizers(options: Omit<QuantizeModelOptions, 'output'>, outputAsGiven: string) {
  const t0 = performance.now();
  const output = path.resolve(outputAsGiven);
  const model = path.resolve(options.model);
  const cal = options.calibration ?? null;
  const data = cal ? path.resolve(cal.data) : undefined;
  const inputs = [model, data, options.calibrationFile, options.qat?.data, options.qat?.labels, ...(options.protect ?? [])].filter((p): p is string => p !== undefined).map((p) => path.resolve(p));
  // Everything that can be checked is checked before the first batch: a run must not fail
  // after a long calibration for a reason known at the start.
  await checkOutputPath(outputAsGiven, inputs);
  if (options.report) await checkOutputPath(options.report, [...inputs, output]);
  const p = await placeModel({
    ...options,
    onBackend: () => checkOutputPath(output, loadedPlugins().map((x) => x.file)),
    onLoaded: (m) => checkOutputPath(output, externalDataFiles(m)),
  });
  const { source, result, quantized, modelInputs, backend, method } = p;
  return { model, m: p.original, backend, method, cal, data, inputs, modelInputs, source, result, quantized, times: [t0, p.marks.loaded, p.marks.transformed, p.marks.placed] as const };
}

/** Calibration from a calibration file, from data, or none (placeholder scales, with a warning). */
async function calibrateAsAsked(
  options: QuantizeModelOptions,
  p: Pick<PlacedForQuantize, 'model' | 'method' | 'source' | 'cal' | 'modelInputs' | 'quantized'> & { backend: string; log: (line: string) => void },
): Promise<{ calibration: QuantizeSummary['calibration']; states: CalibrationResult['states'] }> {
  if (options.calibrationFile) {
    const calibration = await applyCalibrationFile(p.quantized, path.resolve(options.calibrationFile), { model: p.model, backend: p.backend, from: options.from, options: options.calibrationFileOptions });
    return { calibration, states: {} };
  }
  if (p.source && p.cal) {
    const { states, ...calibration } = await calibratePlacement(p.quantized, { ...options, calibration: p.cal }, p.method, p.source, p.modelInputs);
    return { calibration, states };
  }
  warnPlaceholderScales(p.quantized, p.log);
  return { calibration: null, states: {} };
}

/** The whole pipeline on one model: load → transform → insertQdq → calibrate → save. */
export async function quantizeModel(options: QuantizeModelOptions): Promise<QuantizeSummary> {
  const log = options.log ?? log0;
  const output = path.resolve(options.output);
  if (options.calibrationFile && options.calibration) throw new UsageError('give calibration data or a calibration file, not both');
  const { model, m, backend, method, cal, data, inputs, modelInputs, source, result, quantized, times } = await placeQuantizers(options, options.output);
  const [t0, t1, t2, t3] = times;
  const qatData = options.qat ? await openQatData(options.qat, modelInputs) : null;

  const calibrated = calibrateAsAsked(options, { model, backend: backend.name, method, source, cal, modelInputs, quantized, log });
  // The training data is already open: close it if calibration fails.
  const { calibration, states } = await calibrated.catch((e: unknown) => {
    qatData?.close();
    throw e;
  });
  const tCalibrated = performance.now();
  let qat: QatReport | undefined;
  if (options.qat) qat = await runQat(quantized, options.qat, qatData!, { output, progress: options.progress, log });
  const t4 = performance.now();

  let exported = quantized.toExportModel({ quiet: true });
  let float: StronglyTypedReport | undefined;
  const ex = options.export;
  if (ex?.float && ex.float !== 'fp32') {
    // The reference run of the FP32 graph on the calibration data: AutoCast's data rule and the out-of-range report.
    const ranges = source && cal
      ? await measureFloatRanges(result.model, toForwardLoop(await openCalibrationData(data!, dataOptions(cal, modelInputs)), { modelInputs }), { limit: cal.limit })
      : undefined;
    const typed = toStronglyTyped(exported, {
      float: ex.float,
      io: ex.io,
      ranges,
      policy: { ...(ex.dataMax !== undefined ? { dataMax: ex.dataMax } : {}), exclude: ex.keepFp32 ?? [], include: ex.forceReduced ?? [] },
    });
    exported = typed.model;
    float = typed.report;
    if (!ranges) log(`qdeploy: warning: no calibration data: the ${ex.float.toUpperCase()} export keeps FP32 only by op type (no measured ranges, no overflow check)`);
    for (const o of float.outOfRange.filter((r) => !r.keptFp32)) {
      log(`qdeploy: warning: tensor "${o.tensor}" reached |x| = ${o.max.toPrecision(4)} on the calibration data, beyond ${ex.float.toUpperCase()}'s range, in a ${ex.float.toUpperCase()} node (forced): it will overflow to Infinity`);
    }
  }
  await fsp.mkdir(path.dirname(output), { recursive: true });
  await saveModel(exported, output, { protect: inputs });
  const t5 = performance.now();
  const outputBytes = fs.statSync(output).size;

  const s = (a: number, b: number) => (b - a) / 1000;
  const summary: QuantizeSummary = {
    model,
    output,
    outputBytes,
    backend: backend.name,
    nodes: { before: m.graph.nodes.length, after: result.model.graph.nodes.length },
    conversions: result.conversions,
    matches: countMatches(result.matches),
    quantizers: quantized.counts(),
    excluded: quantized.placement.excluded.map((e) => ({ id: matchId(e.match), pattern: e.match.pattern.name, rule: `${e.rule.kind} ${e.rule.value}` })),
    unmatched: byOpType(result.unmatched),
    calibration,
    ...(float ? { float } : {}),
    ...(qat ? { qat } : {}),
    seconds: { load: s(t0, t1), transform: s(t1, t2), insertQdq: s(t2, t3), calibrate: s(t3, tCalibrated), ...(qat ? { train: s(tCalibrated, t4) } : {}), save: s(t4, t5), total: s(t0, t5) },
  };
  if (options.report) {
    const histograms = cal ? await histogramsFor(quantized, states, cal, modelInputs, options.from) : [];
    await writeRunReport(options.report, { title: `qdeploy quantize: ${path.basename(model)} for ${backend.name}`, quantized, summary: quantizeSummaryRows(summary), histograms }, [...inputs, output]);
    summary.report = path.resolve(options.report);
  }
  return summary;
}

/** The closing summary of a quantize run. */
export function formatQuantizeSummary(r: QuantizeSummary): string {
  return `quantized for ${r.backend}\n${table(quantizeSummaryRows(r))}`;
}

/** The summary as label / value rows (the text summary and the HTML report). */
export function quantizeSummaryRows(r: QuantizeSummary): [string, string][] {
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
    ...(r.calibration?.normalization ? [['preprocess', r.calibration.normalization] as [string, string]] : []),
    ...(r.float ? [floatRow(r.float)] : []),
    ...(r.qat ? ([['QAT', formatQatReport(r.qat)]] as [string, string][]) : []),
    ['output', `${displayPath(r.output)} (${formatBytes(r.outputBytes)})`],
    [
      'time',
      `${formatSeconds(r.seconds.total)} (load ${formatSeconds(r.seconds.load)}, transform ${formatSeconds(r.seconds.transform)}, insertQdq ${formatSeconds(r.seconds.insertQdq)}, calibrate ${formatSeconds(r.seconds.calibrate)}${r.seconds.train !== undefined ? `, train ${formatSeconds(r.seconds.train)}` : ''}, save ${formatSeconds(r.seconds.save)})`,
    ],
  ];
  return [
    ...rows.slice(0, rows.findIndex(([k]) => k === 'unmatched')),
    ...(r.excluded.length ? [['excluded', `${plural(r.excluded.length, 'match', 'matches')} kept in float: ${r.excluded.slice(0, 4).map((e) => `${e.pattern} @ ${e.id} (${e.rule})`).join('; ')}${r.excluded.length > 4 ? `; … (${r.excluded.length - 4} more)` : ''}`] as [string, string]] : []),
    ...rows.slice(rows.findIndex(([k]) => k === 'unmatched')),
    ...(r.report ? [['report', displayPath(r.report)] as [string, string]] : []),
  ];
}

/** One summary line for a strongly typed export: what stayed FP32 and why, what overflowed. */
function floatRow(f: StronglyTypedReport): [string, string] {
  const byRule = new Map<string, number>();
  for (const k of f.kept) byRule.set(k.rule, (byRule.get(k.rule) ?? 0) + 1);
  const kept = f.kept.length ? `; FP32 by policy: ${[...byRule].map(([r, n]) => `${n} ${r}`).join(', ')}` : '; no FP32 node';
  const over = f.outOfRange.length ? `; ${plural(f.outOfRange.length, 'tensor')} beyond ${f.float.toUpperCase()} range (${f.outOfRange.filter((o) => o.keptFp32).length} kept FP32)` : '';
  return ['float', `${f.float.toUpperCase()} strongly typed: ${f.lowNodes} nodes ${f.float.toUpperCase()}, ${f.fp32Nodes} FP32${kept}${over}; opset ${f.opset.from} → ${f.opset.to}${f.rangesMeasured ? '' : ' (no calibration data: ranges not measured)'}`];
}
