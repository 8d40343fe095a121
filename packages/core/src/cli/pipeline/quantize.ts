/** `qdeploy quantize`: the whole pipeline on one model, and its closing summary. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { calibrate } from '../../calibrate/calibrate.js';
import { openCalibrationData } from '../../calibrate/data/open.js';
import { toForwardLoop } from '../../calibrate/data/forward-loop.js';
import type { CalibrationSettings, QuantSettings } from '../../config/types.js';
import { displayPath } from '../../config/load.js';
import { saveModel } from '../../onnx/save.js';
import { countMatches, transform } from '../../patterns/transform.js';
import { ensureCalibrator, loadedPlugins } from '../../plugins/load.js';
import { insertQdq } from '../../quantize/insert-qdq.js';
import { matchId } from '../../quantize/exclude.js';
import type { CalibrationResult } from '../../calibrate/calibrate.js';
import { histogramsFor, writeRunReport } from './report.js';
import { formatBytes, formatCounts, formatSeconds, plural, table } from '../format.js';
import { dataOptions, inputCalibrator } from './calibration.js';
import { byOpType, configuredPatterns, mergeQuantConfig, placementOptions, prepareBackend, type PipelineContext } from './context.js';
import { externalDataFiles } from '../../onnx/external-data.js';
import { checkOutputPath, loadInputModel, validateModelFile } from './model-files.js';
import { checkCalibratorOptions, checkExportOpset, checkFiniteWeights } from './preflight.js';

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
  /** More inputs the output must never overwrite (a config file, evaluation data and labels, a reference model). */
  protect?: readonly (string | undefined)[];
  /** Quantize weights holding NaN or ±Inf (with a warning) instead of refusing the model. */
  allowNonFinite?: boolean;
  /** Also write an HTML report here (graph with the placement, histograms, summary). */
  report?: string;
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
  seconds: { load: number; transform: number; insertQdq: number; calibrate: number; save: number; total: number };
  /** The HTML report, when one was asked for. */
  report?: string;
}

const log0 = (line: string) => process.stderr.write(`${line}\n`);

/** The whole pipeline on one model: load → transform → insertQdq → calibrate → save. */
export async function quantizeModel(options: QuantizeModelOptions): Promise<QuantizeSummary> {
  const t0 = performance.now();
  const log = options.log ?? log0;
  const model = path.resolve(options.model);
  const output = path.resolve(options.output);
  const cal = options.calibration ?? null;
  const data = cal ? path.resolve(cal.data) : undefined;
  const inputs = [model, data, ...(options.protect ?? [])].filter((p): p is string => p !== undefined).map((p) => path.resolve(p));
  // Everything that can be checked is checked before the first batch: a run must not fail
  // after a long calibration for a reason known at the start.
  await checkOutputPath(options.output, inputs);
  if (options.report) await checkOutputPath(options.report, [...inputs, output]);

  const backend = await prepareBackend(options.backend ?? 'tensorrt', options);
  await checkOutputPath(output, loadedPlugins().map((p) => p.file));
  const requested = cal?.method ?? backend.defaultCalibrator ?? 'mse';
  const method = cal ? await ensureCalibrator(requested, { from: options.from }) : requested;
  if (cal) checkCalibratorOptions(method, cal.options);

  const m = loadInputModel(model);
  await checkOutputPath(output, externalDataFiles(m));
  const modelInputs = await validateModelFile(model);
  checkExportOpset(m, model);
  const source = cal ? await openCalibrationData(data!, dataOptions(cal, modelInputs)) : undefined;
  if (source?.normalizationGiven === false) {
    log(
      `qdeploy: warning: ${displayPath(data!)}: the images are only scaled to [0, 1], with no mean/std; if the model was trained on normalised images, ` +
        'give --normalize imagenet (or --mean/--std; calibration.normalize in a config), or --normalize unit to say [0, 1] is right',
    );
  }
  const t1 = performance.now();

  const result = transform(m, { patterns: configuredPatterns(backend, options.backendOptions) });
  const t2 = performance.now();
  const quantized = insertQdq(result.model, result.matches, { config: mergeQuantConfig(backend.quantConfig, options.quant), ...placementOptions(options.quant) });
  for (const u of quantized.placement.unusedExcludeRules) log(`qdeploy: warning: exclude rule "${u}" caught no match`);
  checkFiniteWeights(quantized, model, options.allowNonFinite === true, log);
  const t3 = performance.now();

  let calibration: QuantizeSummary['calibration'] = null;
  let states: CalibrationResult['states'] = {};
  if (source && cal) {
    const inputMethod = await inputCalibrator(quantized, cal, method, options.from, log);
    const r = await calibrate(quantized, toForwardLoop(source, { modelInputs }), {
      calibrator: method,
      inputCalibrator: inputMethod,
      calibratorOptions: cal.options,
      limit: cal.limit,
      histogramStride: cal.histogramStride,
      progress: options.progress === false ? false : { total: source.totalSamples },
    });
    states = r.states;
    calibration = { method: r.method, inputMethod, data: data!, ...(source.normalization ? { normalization: source.normalization } : {}), batches: r.batches, samples: r.samples, seconds: r.seconds };
  } else if (quantized.stubs().length > 0) {
    log(`qdeploy: warning: no calibration data: the ${quantized.stubs().length} activation quantizers keep placeholder scales (1.0); give --calib <data> before deploying`);
  }
  const t4 = performance.now();

  await fsp.mkdir(path.dirname(output), { recursive: true });
  const exported = quantized.toExportModel({ quiet: true });
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
    seconds: { load: s(t0, t1), transform: s(t1, t2), insertQdq: s(t2, t3), calibrate: s(t3, t4), save: s(t4, t5), total: s(t0, t5) },
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
    ['output', `${displayPath(r.output)} (${formatBytes(r.outputBytes)})`],
    [
      'time',
      `${formatSeconds(r.seconds.total)} (load ${formatSeconds(r.seconds.load)}, transform ${formatSeconds(r.seconds.transform)}, insertQdq ${formatSeconds(r.seconds.insertQdq)}, calibrate ${formatSeconds(r.seconds.calibrate)}, save ${formatSeconds(r.seconds.save)})`,
    ],
  ];
  return [
    ...rows.slice(0, rows.findIndex(([k]) => k === 'unmatched')),
    ...(r.excluded.length ? [['excluded', `${plural(r.excluded.length, 'match', 'matches')} kept in float: ${r.excluded.slice(0, 4).map((e) => `${e.pattern} @ ${e.id} (${e.rule})`).join('; ')}${r.excluded.length > 4 ? `; … (${r.excluded.length - 4} more)` : ''}`] as [string, string]] : []),
    ...rows.slice(rows.findIndex(([k]) => k === 'unmatched')),
    ...(r.report ? [['report', displayPath(r.report)] as [string, string]] : []),
  ];
}
