import type * as ort from 'onnxruntime-node';
import { modelToBytes } from '../onnx/save.js';
import type { QuantizedModel } from '../quantize/quantized-model.js';
import { sqnrDb } from '../evaluate/stats.js';
import type { HeldBatches } from './data.js';
import { macsPerNode } from './macs.js';
import { OutputScore, type OutputMetrics } from './score.js';
import { buildSwitchable, Precision, SwitchableSession, type SwitchableModel } from './switchable.js';

export interface MatchSensitivity {
  /** The match id (its anchor node's name): what `quant.exclude.matches` takes. */
  id: string;
  pattern: string;
  nodes: string[];
  /** Multiply-accumulates per sample in this match. */
  macs: number;
  /** The model with only this match quantized (everything else float). */
  only: OutputMetrics;
  /** The model with every match quantized except this one. */
  allBut: OutputMetrics;
}

export interface SensitivityReport {
  samples: number;
  /** FP32 top-1 (0..1) when labels were given. */
  fp32Top1?: number;
  /** Every match quantized. */
  all: OutputMetrics;
  /** Most damaging first: lowest SQNR with only that match quantized. */
  matches: MatchSensitivity[];
  /** Each QuantStub's own quantization noise on the FP32 tensor: 10·log10(Σx² / Σ(fq(x) − x)²). */
  stubs: { tensor: string; sqnrDb: number }[];
  /** Total MACs per sample of the model's Conv / Gemm / MatMul nodes. */
  totalMacs: number;
  /** Model runs (configurations × batches) and the wall time. */
  runs: number;
  seconds: number;
}

export interface AnalyzeOptions {
  /** The same placement at a wider bit width (tune's fallback before float). */
  wide?: QuantizedModel;
  sessionOptions?: ort.InferenceSession.SessionOptions;
  /** Called after each batch. */
  onBatch?: (done: number, total: number) => void;
}

/** The first output's values of a run (logits). */
export function firstOutput(graph: SwitchableModel, r: ort.InferenceSession.ReturnType): Float32Array {
  return r[graph.outputs[0]!]!.data as Float32Array;
}

/**
 * Per-match sensitivity of a calibrated QuantizedModel on held data: for each match, the
 * output SQNR / argmax agreement / top-1 with only that match quantized and with all but
 * that match. One switchable session, each batch run 2·matches + 2 times while it is in
 * memory.
 */
export async function analyzeSensitivity(qm: QuantizedModel, data: HeldBatches, options: AnalyzeOptions = {}): Promise<SensitivityReport> {
  const started = performance.now();
  const graph = buildSwitchable(qm, options.wide);
  const session = await SwitchableSession.create(graph, modelToBytes(graph.model), options.sessionOptions);
  const M = graph.matches.length;
  const labelled = !!data.labels;
  const fp32 = new OutputScore(labelled);
  const all = new OutputScore(labelled);
  const only = graph.matches.map(() => new OutputScore(labelled));
  const allBut = graph.matches.map(() => new OutputScore(labelled));
  const signal = new Float64Array(graph.stubStats.length);
  const noise = new Float64Array(graph.stubStats.length);
  const sel = new Uint8Array(M);
  let runs = 0, offset = 0;
  try {
    for (let b = 0; b < data.batches.length; b++) {
      const feed = data.batches[b]!;
      const n = data.sizes[b]!;
      const labels = data.labels?.subarray(offset, offset + n);
      const run = async () => {
        runs++;
        return firstOutput(graph, await session.run(feed, sel));
      };
      sel.fill(Precision.FLOAT);
      const r0 = await session.run(feed, sel, true);
      runs++;
      const ref = firstOutput(graph, r0);
      graph.stubStats.forEach((s, i) => {
        signal[i] += (r0[s.signal]!.data as Float32Array)[0]!;
        noise[i] += (r0[s.noise]!.data as Float32Array)[0]!;
      });
      fp32.add(ref, ref, n, labels);
      sel.fill(Precision.BASE);
      all.add(ref, await run(), n, labels);
      for (let i = 0; i < M; i++) {
        sel.fill(Precision.FLOAT);
        sel[i] = Precision.BASE;
        only[i]!.add(ref, await run(), n, labels);
        sel.fill(Precision.BASE);
        sel[i] = Precision.FLOAT;
        allBut[i]!.add(ref, await run(), n, labels);
      }
      offset += n;
      options.onBatch?.(b + 1, data.batches.length);
    }
  } finally {
    await session.release();
  }
  const macs = await macsPerNode(qm.model, data.batches[0]!);
  const matches: MatchSensitivity[] = graph.matches.map((m, i) => ({
    id: graph.ids[i]!,
    pattern: m.pattern.name,
    nodes: m.nodes.map((x) => x.name),
    macs: m.nodes.reduce((a, x) => a + (macs.get(x) ?? 0), 0),
    only: only[i]!.metrics(),
    allBut: allBut[i]!.metrics(),
  }));
  matches.sort((a, b) => a.only.sqnrDb - b.only.sqnrDb || b.allBut.sqnrDb - a.allBut.sqnrDb);
  const report: SensitivityReport = {
    samples: data.samples,
    all: all.metrics(),
    matches,
    stubs: graph.stubStats.map((s, i) => ({ tensor: s.tensor, sqnrDb: sqnrDb(signal[i]!, noise[i]!) })),
    totalMacs: [...macs.values()].reduce((a, b) => a + b, 0),
    runs,
    seconds: (performance.now() - started) / 1000,
  };
  const t = fp32.metrics().top1;
  if (t !== undefined) report.fp32Top1 = t;
  return report;
}
