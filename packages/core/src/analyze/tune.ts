import * as ort from 'onnxruntime-node';
import type { Model } from '../ir/model.js';
import { modelToBytes } from '../onnx/save.js';
import { insertQdq } from '../quantize/insert-qdq.js';
import type { QuantizedModel } from '../quantize/quantized-model.js';
import type { QuantOverrides } from '../quantize/overrides.js';
import { headOf, type HeldBatches } from './data.js';
import { analyzeSensitivity, firstOutput, type SensitivityReport } from './analyze.js';
import { OutputScore, type OutputMetrics } from './score.js';
import { buildSwitchable, Precision, SwitchableSession, type SwitchableModel } from './switchable.js';

/** What the budget is measured on: top-1 (needs labels), argmax agreement with FP32, or output SQNR. */
export type TuneMetric = 'top1' | 'agreement' | 'sqnr';

export interface TuneOptions {
  metric?: TuneMetric;
  /** top1 / agreement: the largest allowed drop, in points (default 1). */
  maxDrop?: number;
  /** sqnr: the smallest allowed output SQNR in dB (default 20). */
  minSqnrDb?: number;
  /** The same placement at 8 bits (calibrated for it): below 8 bits a match is widened before it goes float. */
  wide?: QuantizedModel;
  /** Data the final choice is checked on (never searched on). */
  heldOut?: HeldBatches;
  /** Rank the matches on the first this many tuning samples (default 256): the ranking costs 2·matches + 2 runs a batch, a search step one. */
  rankSamples?: number;
  /** A sensitivity ranking already computed on the tuning data. */
  sensitivity?: SensitivityReport;
  sessionOptions?: ort.InferenceSession.SessionOptions;
  /** Called after each step of the search. */
  onStep?: (step: TuneStep) => void;
}

export interface TuneStep {
  step: number;
  /** "start": the full placement; "wide": a match raised to 8 bits; "float": a match left in float. */
  action: 'start' | 'wide' | 'float';
  match?: string;
  pattern?: string;
  metrics: OutputMetrics;
  /** Drop against FP32 on the tuning data (points; for sqnr, the SQNR in dB). */
  score: number;
  /** Share of the model's MACs still quantized, and at the base bit width. */
  quantizedMacShare: number;
  baseMacShare: number;
  /** Matches in float and at 8 bits after this step (ids). */
  float: string[];
  widened: string[];
}

export interface TuneEvaluation {
  samples: number;
  fp32: OutputMetrics;
  quantized: OutputMetrics;
  /** Points lost (top1, agreement) or the SQNR in dB (sqnr). */
  score: number;
  met: boolean;
}

export interface TuneResult {
  metric: TuneMetric;
  budget: { maxDrop?: number; minSqnrDb?: number };
  steps: TuneStep[];
  /** Matches left in float and raised to 8 bits (ids). */
  float: string[];
  widened: string[];
  /** The settings to commit: `quant.exclude` and `quant.overrides` of a config file. */
  configSnippet: { exclude: { matches: string[] }; overrides?: QuantOverrides };
  tuning: TuneEvaluation;
  /** The exported model on the held-out data (onnxruntime without graph fusions, the arithmetic of the fake-quant graph). */
  heldOut?: TuneEvaluation;
  quantizedMacShare: number;
  baseMacShare: number;
  /** The final model's placement, calibrated (scales copied from the searched quantizers). */
  quantized: QuantizedModel;
  sensitivity: SensitivityReport;
  seconds: number;
}

function scoreOf(metric: TuneMetric, fp32: OutputMetrics, q: OutputMetrics): number {
  if (metric === 'sqnr') return q.sqnrDb;
  if (metric === 'agreement') return (1 - q.agreement) * 100;
  return ((fp32.top1 ?? 0) - (q.top1 ?? 0)) * 100;
}

/** Runs one precision choice over held batches (and FP32 alongside). */
async function evaluateChoice(session: SwitchableSession, graph: SwitchableModel, data: HeldBatches, sel: Uint8Array): Promise<{ fp32: OutputMetrics; q: OutputMetrics }> {
  const fp32 = new OutputScore(!!data.labels), q = new OutputScore(!!data.labels);
  const off = new Uint8Array(sel.length);
  let offset = 0;
  for (let b = 0; b < data.batches.length; b++) {
    const n = data.sizes[b]!;
    const labels = data.labels?.subarray(offset, offset + n);
    const ref = firstOutput(graph, await session.run(data.batches[b]!, off));
    fp32.add(ref, ref, n, labels);
    q.add(ref, firstOutput(graph, await session.run(data.batches[b]!, sel)), n, labels);
    offset += n;
  }
  return { fp32: fp32.metrics(), q: q.metrics() };
}

/** Runs an exported model and the FP32 model on held batches with onnxruntime (no graph fusions). */
async function evaluateExported(exported: Model, fp32Model: Model, data: HeldBatches, outputName: string): Promise<{ fp32: OutputMetrics; q: OutputMetrics }> {
  const opts: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'disabled' };
  const a = await ort.InferenceSession.create(modelToBytes(fp32Model), opts);
  const b = await ort.InferenceSession.create(modelToBytes(exported), opts);
  try {
    const fp32 = new OutputScore(!!data.labels), q = new OutputScore(!!data.labels);
    let offset = 0;
    for (let i = 0; i < data.batches.length; i++) {
      const n = data.sizes[i]!;
      const labels = data.labels?.subarray(offset, offset + n);
      const ref = (await a.run(data.batches[i]!, [outputName]))[outputName]!.data as Float32Array;
      fp32.add(ref, ref, n, labels);
      q.add(ref, (await b.run(data.batches[i]!, [outputName]))[outputName]!.data as Float32Array, n, labels);
      offset += n;
    }
    return { fp32: fp32.metrics(), q: q.metrics() };
  } finally {
    await a.release();
    await b.release();
  }
}

/**
 * Mixed precision under an accuracy budget: starting from the full placement, the most
 * sensitive matches (lowest output SQNR when quantized alone) are raised to 8 bits (when
 * `wide` is given) and then left in float, one at a time, until the budget holds on the
 * tuning data; the final model is then exported and checked on the held-out data.
 */
export async function tune(qm: QuantizedModel, tuning: HeldBatches, options: TuneOptions = {}): Promise<TuneResult> {
  const started = performance.now();
  const metric = options.metric ?? (tuning.labels ? 'top1' : 'agreement');
  if (metric === 'top1' && !tuning.labels) throw new Error('tune: metric "top1" needs labels for the tuning data');
  const maxDrop = options.maxDrop ?? 1;
  const minSqnr = options.minSqnrDb ?? 20;
  const holds = (s: number) => (metric === 'sqnr' ? s >= minSqnr : s <= maxDrop + 1e-9);
  const sensitivity = options.sensitivity ?? (await analyzeSensitivity(qm, headOf(tuning, options.rankSamples ?? 256), { wide: options.wide, sessionOptions: options.sessionOptions }));
  const graph = buildSwitchable(qm, options.wide);
  const session = await SwitchableSession.create(graph, modelToBytes(graph.model), options.sessionOptions);
  const macsById = new Map(sensitivity.matches.map((m) => [m.id, m.macs]));
  const order = sensitivity.matches.map((m) => graph.ids.indexOf(m.id)).filter((i) => i >= 0);
  const sel = new Uint8Array(graph.matches.length).fill(Precision.BASE);
  const total = sensitivity.totalMacs || 1;
  const shares = () => {
    let q = 0, base = 0;
    graph.ids.forEach((id, i) => {
      const m = macsById.get(id) ?? 0;
      if (sel[i] !== Precision.FLOAT) q += m;
      if (sel[i] === Precision.BASE) base += m;
    });
    return { quantizedMacShare: q / total, baseMacShare: base / total };
  };
  const steps: TuneStep[] = [];
  let current: { fp32: OutputMetrics; q: OutputMetrics };
  try {
    const evaluate = async (action: TuneStep['action'], i?: number) => {
      current = await evaluateChoice(session, graph, tuning, sel);
      const step: TuneStep = {
        step: steps.length,
        action,
        metrics: current.q,
        score: scoreOf(metric, current.fp32, current.q),
        ...shares(),
        float: graph.ids.filter((_, k) => sel[k] === Precision.FLOAT),
        widened: graph.ids.filter((_, k) => sel[k] === Precision.WIDE),
      };
      if (i !== undefined) Object.assign(step, { match: graph.ids[i], pattern: graph.matches[i]!.pattern.name });
      steps.push(step);
      options.onStep?.(step);
      return step.score;
    };
    let score = await evaluate('start');
    const phases: [TuneStep['action'], Precision][] = graph.wideInputs.some((w) => w) ? [['wide', Precision.WIDE], ['float', Precision.FLOAT]] : [['float', Precision.FLOAT]];
    for (const [action, to] of phases) {
      for (const i of order) {
        if (holds(score)) break;
        if (sel[i] === to || (to === Precision.WIDE && !graph.wideInputs[i])) continue;
        sel[i] = to;
        score = await evaluate(action, i);
      }
    }
  } finally {
    await session.release();
  }
  const { float, widened } = steps.at(-1)!;
  const overrides = widenOverrides(widened);
  const quantized = placementAt(qm, options.wide, float, widened);
  const last = steps.at(-1)!;
  const tuningEval: TuneEvaluation = { samples: tuning.samples, fp32: current!.fp32, quantized: current!.q, score: last.score, met: holds(last.score) };
  const result: TuneResult = {
    metric,
    budget: metric === 'sqnr' ? { minSqnrDb: minSqnr } : { maxDrop },
    steps,
    float,
    widened,
    configSnippet: { exclude: { matches: float }, ...(overrides ? { overrides } : {}) },
    tuning: tuningEval,
    quantizedMacShare: last.quantizedMacShare,
    baseMacShare: last.baseMacShare,
    quantized,
    sensitivity,
    seconds: 0,
  };
  if (options.heldOut) {
    const r = await evaluateExported(quantized.toExportModel({ quiet: true }), qm.model, options.heldOut, graph.outputs[0]!);
    const s = scoreOf(metric, r.fp32, r.q);
    result.heldOut = { samples: options.heldOut.samples, fp32: r.fp32, quantized: r.q, score: s, met: holds(s) };
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

function widenOverrides(widened: readonly string[]): QuantOverrides | undefined {
  return widened.length ? { matches: Object.fromEntries(widened.map((id) => [id, { activation: { nBits: 8 }, weight: { nBits: 8 } }])) } : undefined;
}

/** A step's placement: float matches excluded, widened ones at 8 bits, scales copied from the searched quantizers. */
export function placementAt(qm: QuantizedModel, wide: QuantizedModel | undefined, float: readonly string[], widened: readonly string[]): QuantizedModel {
  const overrides = widenOverrides(widened);
  const { exclude: ex, overrides: ov } = qm.placement;
  const out = insertQdq(qm.model, qm.matches, {
    config: qm.config,
    exclude: { ...ex, matches: [...(ex?.matches ?? []), ...float] },
    overrides: { ...ov, matches: { ...ov?.matches, ...overrides?.matches } },
  });
  const from = (q: QuantizedModel | undefined) => new Map((q?.stubs() ?? []).map((s) => [s.tensor, s]));
  const base = from(qm), wideStubs = from(wide);
  for (const s of out.stubs()) {
    const src = s.config.nBits === qm.config.activation.nBits ? base.get(s.tensor) : (wideStubs.get(s.tensor) ?? base.get(s.tensor));
    if (src?.range && !s.fixed) s.setRange(src.range);
  }
  return out;
}
