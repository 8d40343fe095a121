/** `qdeploy tune`: mixed precision under an accuracy budget, checked on held-out data. */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { headOf, readBatches, type HeldBatches } from '../../analyze/data.js';
import { placementAt, tune, type TuneMetric, type TuneResult } from '../../analyze/tune.js';
import { displayPath } from '../../config/load.js';
import { externalDataFiles } from '../../onnx/external-data.js';
import { saveModel } from '../../onnx/save.js';
import { UsageError } from '../errors.js';
import { table } from '../format.js';
import { placeAgain, placeAndCalibrate, type CalibratedOptions } from './calibrated.js';
import { checkOutputPath } from './model-files.js';
import { buildWithBackend } from './build.js';
import { reportHistograms, writeRunReport } from './report.js';

export interface TuneModelOptions extends CalibratedOptions {
  output: string;
  /** Tuning data (.npy) and labels. */
  data: string;
  labels?: string;
  /** Held-out data; default: the second half of `data`. */
  heldOut?: string;
  heldOutLabels?: string;
  dataLimit?: number;
  batchSize?: number;
  metric?: TuneMetric;
  maxDrop?: number;
  minSqnrDb?: number;
  report?: string;
  /** Build each step's model with the backend's builder (TensorRT: trtexec) and report its latency. */
  buildSteps?: boolean;
  /** Options for those builds (the config's build section). */
  buildOptions?: Record<string, unknown>;
}

export interface TuneSummary {
  model: string;
  output: string;
  backend: string;
  tuningData: string;
  heldOutData: string;
  result: Omit<TuneResult, 'quantized' | 'sensitivity'>;
  /** With buildSteps: each step's build summary (the backend's report lines). */
  builds?: { step: number; summary: string[] }[];
  report?: string;
}

async function splitData(o: TuneModelOptions, modelInputs: Parameters<typeof readBatches>[1]['modelInputs']): Promise<{ tuning: HeldBatches; heldOut: HeldBatches; tuningData: string; heldOutData: string }> {
  const batchSize = o.batchSize ?? 100;
  const data = path.resolve(o.data);
  const labels = o.labels && path.resolve(o.labels);
  const all = await readBatches(data, { labels, limit: o.dataLimit, batchSize, modelInputs });
  if (o.heldOut) {
    const heldOut = await readBatches(path.resolve(o.heldOut), { labels: o.heldOutLabels && path.resolve(o.heldOutLabels), batchSize, modelInputs });
    return { tuning: all, heldOut, tuningData: displayPath(data), heldOutData: displayPath(path.resolve(o.heldOut)) };
  }
  const half = Math.floor(all.samples / 2);
  if (half < 1) throw new UsageError(`${displayPath(data)}: too few samples to split into tuning and held-out halves; give --holdout <data>`);
  const tuning = headOf(all, half);
  const heldOut = await readBatches(data, { labels, offset: half, limit: all.samples - half, batchSize, modelInputs });
  return { tuning, heldOut, tuningData: `${displayPath(data)} samples 0–${half - 1}`, heldOutData: `${displayPath(data)} samples ${half}–${all.samples - 1}` };
}

export async function tuneModel(o: TuneModelOptions): Promise<TuneSummary> {
  if (!o.calibration) throw new UsageError('tune needs calibration data: give --calib <data>');
  const model = path.resolve(o.model);
  const output = path.resolve(o.output);
  const inputs = [model, o.calibration.data, o.data, o.labels, o.heldOut, o.heldOutLabels];
  await checkOutputPath(output, inputs);
  if (o.report) await checkOutputPath(o.report, [...inputs, output]);
  const c = await placeAndCalibrate({ ...o, onLoaded: (m) => checkOutputPath(output, externalDataFiles(m)) });
  const q = c.quantized.config;
  const low = Math.min(q.activation.nBits, q.weight.nBits) < 8;
  const wide = low
    ? await placeAgain(c, o, { ...o.quant, activation: { ...o.quant?.activation, nBits: 8 }, weight: { ...o.quant?.weight, nBits: 8 } }, 8)
    : undefined;
  const { tuning, heldOut, tuningData, heldOutData } = await splitData(o, c.modelInputs);
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const result = await tune(c.quantized, tuning, {
    metric: o.metric,
    maxDrop: o.maxDrop,
    minSqnrDb: o.minSqnrDb,
    wide,
    heldOut,
    onStep: (s) => log(`qdeploy: tune step ${s.step}: ${s.action}${s.match ? ` ${s.pattern} @ ${s.match}` : ''} → ${s.score.toFixed(2)}${result0Unit(o.metric)}`),
  });
  await fsp.mkdir(path.dirname(output), { recursive: true });
  await saveModel(result.quantized.toExportModel({ quiet: true }), output, { protect: inputs.filter((x): x is string => !!x).map((x) => path.resolve(x)) });
  const { quantized, sensitivity, ...rest } = result;
  const summary: TuneSummary = { model, output, backend: c.backend.name, tuningData, heldOutData, result: rest };
  if (o.buildSteps) {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'qdeploy-tune-'));
    try {
      summary.builds = [];
      for (const step of result.steps) {
        const file = path.join(dir, `step${step.step}.onnx`);
        await saveModel(placementAt(c.quantized, wide, step.float, step.widened).toExportModel({ quiet: true }), file);
        const b = await buildWithBackend(c.backend, file, { ...o.buildOptions });
        summary.builds.push({ step: step.step, summary: b.summary });
        log(`qdeploy: tune step ${step.step} built:\n  ${b.summary.join('\n  ')}`);
      }
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  }
  if (o.report) {
    const histograms = await reportHistograms(c, o);
    await writeRunReport(
      o.report,
      { title: `qdeploy tune: ${path.basename(model)}`, quantized, summary: tuneSummaryRows(summary), histograms, sensitivity, tune: { steps: result.steps, metric: result.metric, configSnippet: result.configSnippet } },
      inputs,
    );
    summary.report = path.resolve(o.report);
  }
  return summary;
}

function result0Unit(metric: TuneMetric | undefined): string {
  return metric === 'sqnr' ? ' dB' : ' points lost';
}

const pct = (x: number | undefined) => (x === undefined ? '—' : (x * 100).toFixed(2));

export function tuneSummaryRows(s: TuneSummary): [string, string][] {
  const r = s.result;
  const unit = r.metric === 'sqnr' ? 'dB SQNR' : 'points';
  const budget = r.metric === 'sqnr' ? `SQNR ≥ ${r.budget.minSqnrDb} dB` : `${r.metric} drop ≤ ${r.budget.maxDrop} points`;
  const ev = (e: TuneResult['tuning']) =>
    `${r.metric === 'top1' ? `top-1 ${pct(e.quantized.top1)} vs FP32 ${pct(e.fp32.top1)}` : `agreement ${pct(e.quantized.agreement)} %, SQNR ${e.quantized.sqnrDb.toFixed(1)} dB`}: ${e.score.toFixed(2)} ${unit} (${e.samples} samples) — ${e.met ? 'within budget' : 'OVER BUDGET'}`;
  return [
    ['model', displayPath(s.model)],
    ['budget', budget],
    ['start', `${r.steps[0]!.score.toFixed(2)} ${unit} on the tuning data`],
    ['search', `${r.steps.length - 1} steps: ${r.float.length} matches in float, ${r.widened.length} raised to 8 bits`],
    ['tuning', `${s.tuningData}: ${ev(r.tuning)}`],
    ['held out', r.heldOut ? `${s.heldOutData}: ${ev(r.heldOut)}` : 'none'],
    ['MACs quantized', `${pct(r.quantizedMacShare)} % (at the base bit width: ${pct(r.baseMacShare)} %)`],
    ['output', displayPath(s.output)],
    ...(s.report ? [['report', displayPath(s.report)] as [string, string]] : []),
  ];
}

export function formatTuneReport(s: TuneSummary): string {
  const r = s.result;
  const steps = r.steps.map((x) => [x.step, x.action, x.match ? `${x.pattern} @ ${x.match}` : '—', x.score.toFixed(2), `${pct(x.quantizedMacShare)} %`, `${pct(x.baseMacShare)} %`]);
  const verdict = !r.tuning.met
    ? '\nthe budget could not be met on the tuning data, even with every match in float'
    : r.heldOut && !r.heldOut.met
      ? '\nthe budget holds on the tuning data but NOT on the held-out data: tighten --max-drop or tune on more data'
      : '';
  return [
    `tuned ${displayPath(s.model)} (${s.backend})`,
    table(tuneSummaryRows(s)),
    '',
    'search',
    table(steps, ['step', 'action', 'match', r.metric === 'sqnr' ? 'SQNR dB' : 'drop', 'MACs quantized', 'MACs base bits']),
    '',
    'config snippet (quant section):',
    JSON.stringify(r.configSnippet, null, 2),
    ...(s.builds ? ['', 'engine per step', ...s.builds.flatMap((b) => [`step ${b.step}`, ...b.summary.map((l) => `  ${l}`)])] : []),
  ].join('\n') + verdict;
}
