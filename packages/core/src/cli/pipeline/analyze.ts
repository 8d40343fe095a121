/** `qdeploy analyze`: per-match sensitivity of a calibrated placement, as a ranking. */
import path from 'node:path';
import { analyzeSensitivity, type SensitivityReport } from '../../analyze/analyze.js';
import { readBatches } from '../../analyze/data.js';
import { displayPath } from '../../config/load.js';
import { UsageError } from '../errors.js';
import { table } from '../format.js';
import { placeAndCalibrate, type CalibratedOptions } from './calibrated.js';
import { checkOutputPath } from './model-files.js';
import { reportHistograms, writeRunReport } from './report.js';

export interface AnalyzeModelOptions extends CalibratedOptions {
  /** Data the sensitivity is measured on (.npy). */
  data: string;
  /** Its labels (.npy), for top-1. */
  labels?: string;
  /** At most this many samples of `data`. */
  dataLimit?: number;
  batchSize?: number;
  report?: string;
}

export interface AnalyzeSummary {
  model: string;
  backend: string;
  data: string;
  calibration: { method: string; samples: number } | null;
  sensitivity: SensitivityReport;
  report?: string;
}

export async function analyzeModel(o: AnalyzeModelOptions): Promise<AnalyzeSummary> {
  if (!o.calibration) throw new UsageError('analyze needs calibration data: give --calib <data>');
  const model = path.resolve(o.model);
  if (o.report) await checkOutputPath(o.report, [model, o.data, o.labels, o.calibration.data]);
  const c = await placeAndCalibrate(o);
  const data = await readBatches(path.resolve(o.data), { labels: o.labels && path.resolve(o.labels), limit: o.dataLimit, batchSize: o.batchSize ?? 100, modelInputs: c.modelInputs });
  const sensitivity = await analyzeSensitivity(c.quantized, data);
  const summary: AnalyzeSummary = {
    model,
    backend: c.backend.name,
    data: path.resolve(o.data),
    calibration: c.calibration && { method: c.calibration.method, samples: c.calibration.samples },
    sensitivity,
  };
  if (o.report) {
    const histograms = await reportHistograms(c, o);
    await writeRunReport(o.report, { title: `qdeploy analyze: ${path.basename(model)}`, quantized: c.quantized, summary: analyzeSummaryRows(summary), histograms, sensitivity }, [model, o.data, o.labels]);
    summary.report = path.resolve(o.report);
  }
  return summary;
}

const pct = (x: number | undefined) => (x === undefined ? '—' : `${(x * 100).toFixed(2)}`);
const db = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : String(x));

export function analyzeSummaryRows(r: AnalyzeSummary): [string, string][] {
  const s = r.sensitivity;
  return [
    ['model', displayPath(r.model)],
    ['backend', r.backend],
    ['data', `${displayPath(r.data)} (${s.samples} samples)`],
    ['FP32 top-1', pct(s.fp32Top1)],
    ['all quantized', `SQNR ${db(s.all.sqnrDb)} dB, agreement ${pct(s.all.agreement)} %${s.all.top1 !== undefined ? `, top-1 ${pct(s.all.top1)}` : ''}`],
    ['cost', `${s.runs} runs of one switchable session in ${s.seconds.toFixed(1)} s`],
  ];
}

/** The ranking as a table: most damaging match first. */
export function formatAnalyzeReport(r: AnalyzeSummary): string {
  const s = r.sensitivity;
  const total = s.totalMacs || 1;
  const rows = s.matches.map((m, i) => [
    i + 1,
    m.pattern,
    m.id,
    `${((m.macs / total) * 100).toFixed(1)} %`,
    db(m.only.sqnrDb),
    pct(m.only.agreement),
    pct(m.only.top1),
    db(m.allBut.sqnrDb),
    pct(m.allBut.agreement),
    pct(m.allBut.top1),
  ]);
  const stubs = [...s.stubs].sort((a, b) => a.sqnrDb - b.sqnrDb);
  return [
    `sensitivity of ${displayPath(r.model)} (${r.backend})`,
    table(analyzeSummaryRows(r)),
    '',
    'matches, most damaging first (only: this match alone quantized; all but: every other match quantized)',
    table(rows, ['#', 'pattern', 'match', 'MACs', 'only SQNR dB', 'only agree %', 'only top-1', 'all but SQNR dB', 'all but agree %', 'all but top-1']),
    '',
    'QuantStub tensors, noisiest first (SQNR of fake-quant vs the FP32 tensor)',
    table(stubs.map((x) => [x.tensor, db(x.sqnrDb)]), ['tensor', 'SQNR dB']),
  ].join('\n');
}
