import * as ort from 'onnxruntime-node';
import { DataType } from '../ir/dtype.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import { Tensor } from '../ir/tensor.js';
import type { Use, Value } from '../ir/value.js';
import type { PatternMatch } from '../patterns/pattern.js';
import { addQdqPair } from '../quantize/export-qdq.js';
import { matchId } from '../quantize/exclude.js';
import type { QuantizedModel } from '../quantize/quantized-model.js';
import type { Quantizer } from '../quantize/quantizer.js';

/** What a match runs in: float, its quantizers' own bit width, or the wide (8-bit) variant. */
export const Precision = { FLOAT: 0, BASE: 1, WIDE: 2 } as const;
export type Precision = (typeof Precision)[keyof typeof Precision];

/**
 * One float graph in which every quantized match can be switched between float and
 * fake-quant at run time: each of its quantized inputs and weights goes through
 * Where(flag, fakeQuant(x), x), with one boolean graph input per match. Sensitivity and
 * the tuning search then run one onnxruntime session over the same batches instead of
 * building a model per match.
 */
export interface SwitchableModel {
  model: Model;
  /** The matches that own quantizers, in graph order; flag i switches matches[i]. */
  matches: PatternMatch[];
  ids: string[];
  /** Boolean inputs: quantized (true) or float. */
  flagInputs: string[];
  /** Boolean inputs: wide variant (true) or base bits; null where there is no wide variant. */
  wideInputs: (string | null)[];
  /** Per stub: the tensor and the outputs holding Σx² and Σ(fq(x) − x)² of the batch. */
  stubStats: { tensor: string; signal: string; noise: string }[];
  /** The model's own outputs. */
  outputs: string[];
}

function boolInput(g: Model['graph'], name: string): Value {
  const v = g.getOrCreateValue(name);
  v.type = { tensorType: { elemType: DataType.BOOL, shape: { dim: [] } } };
  g.inputs.push(v);
  return v;
}

function scalarOutput(g: Model['graph'], v: Value): void {
  v.type = { tensorType: { elemType: DataType.FLOAT, shape: { dim: [] } } };
  g.outputs.push(v);
}

/** The match among `q.matches` whose nodes read through `use` (an OUTPUT point: the first). */
function ownerOf(use: Use, matches: readonly PatternMatch[]): PatternMatch {
  return matches.find((m) => m.nodes.includes(use.node)) ?? matches[0]!;
}

/**
 * Builds the switchable graph of a calibrated QuantizedModel. `wide` (optional) is the
 * same placement at a wider bit width (its stubs calibrated for it): a match then has
 * three states, float / base / wide.
 */
export function buildSwitchable(qm: QuantizedModel, wide?: QuantizedModel): SwitchableModel {
  const out = qm.model.clone();
  const g = out.graph;
  const nodeMap = new Map<Node, Node>(qm.model.graph.nodes.map((n, i) => [n, g.nodes[i]!]));
  const valueOf = (v: Value) => g.value(v.name)!;
  const wideOf = new Map<string, Quantizer>((wide?.quantizers() ?? []).map((q) => [`${q.kind}:${q.tensor.name}`, q]));
  const active = qm.quantizers().filter((q) => q.enabled);
  const matches = qm.matches.filter((m) => active.some((q) => q.matches.includes(m)));
  const index = new Map(matches.map((m, i) => [m, i]));
  const ids = matches.map(matchId);
  const flagInputs = matches.map((_, i) => `qdeploy_quantize_${i}`);
  const hasWide = matches.map((m) => !!wide && active.some((q) => q.matches.includes(m) && wideOf.has(`${q.kind}:${q.tensor.name}`)));
  const wideInputs = matches.map((_, i) => (hasWide[i] ? `qdeploy_wide_${i}` : null));
  const flags = flagInputs.map((n) => boolInput(g, n));
  const wides = wideInputs.map((n) => (n ? boolInput(g, n) : null));
  const stubStats: SwitchableModel['stubStats'] = [];
  const outputs = g.outputs.map((v) => v.name);

  const select = (i: number, x: Value, fq: Value, fqWide: Value | null, base: string): Value => {
    let q = fq;
    if (fqWide && wides[i]) q = g.addNode({ opType: 'Where', name: g.uniqueName(`${base}_wide_select`), inputs: [wides[i]!, fqWide, fq], outputs: [g.addValue(`${base}_wide_or_base`)] }).output();
    return g.addNode({ opType: 'Where', name: g.uniqueName(`${base}_select`), inputs: [flags[i]!, q, x], outputs: [g.addValue(`${base}_switched`)] }).output();
  };

  for (const q of active) {
    const x = valueOf(q.tensor);
    const w = wideOf.get(`${q.kind}:${q.tensor.name}`) ?? null;
    if (q.kind === 'QuantStub') {
      const fq = addQdqPair(g, x, q);
      const fqWide = w ? addQdqPair(g, x, w) : null;
      const sq = (v: Value, n: string) => g.addNode({ opType: 'ReduceSumSquare', name: g.uniqueName(n), inputs: [v], outputs: [g.addValue(n)], attrs: { keepdims: 0 } }).output();
      const diff = g.addNode({ opType: 'Sub', name: g.uniqueName(`${x.name}_qnoise`), inputs: [fq, x], outputs: [g.addValue(`${x.name}_qnoise`)] }).output();
      const signal = sq(x, `${x.name}_stat_signal`);
      const noise = sq(diff, `${x.name}_stat_noise`);
      scalarOutput(g, signal);
      scalarOutput(g, noise);
      stubStats.push({ tensor: q.tensor.name, signal: signal.name, noise: noise.name });
      const stub = qm.stubs().find((s) => s === q)!;
      const byMatch = new Map<number, Use[]>();
      for (const u of stub.uses) {
        const i = index.get(ownerOf(u, stub.matches))!;
        byMatch.set(i, [...(byMatch.get(i) ?? []), u]);
      }
      for (const [i, uses] of byMatch) {
        const sel = select(i, x, fq, fqWide, `${x.name}_m${i}`);
        for (const u of uses) nodeMap.get(u.node)!.setInput(u.index, sel);
      }
    } else {
      const t = q.tensor.constant()!;
      const fqConst = (qz: Quantizer, suffix: string) => g.addInitializer(g.uniqueName(`${x.name}_${suffix}`), Tensor.fromArray(qz.fakeQuantize(Float32Array.from(t.toFloat32()), t.dims), t.dims));
      const fq = fqConst(q, 'fakequant');
      const fqWide = w ? fqConst(w, 'fakequant_wide') : null;
      for (const m of q.matches) {
        const i = index.get(m)!;
        const sel = select(i, x, fq, fqWide, `${x.name}_m${i}`);
        for (const n of m.nodes) {
          const c = nodeMap.get(n)!;
          c.inputs.forEach((v, k) => v === x && c.setInput(k, sel));
        }
      }
    }
  }
  g.cleanup().toposort();
  return { model: out, matches, ids, flagInputs, wideInputs, stubStats, outputs };
}

/** An onnxruntime session over a switchable graph: run a batch with any per-match precision. */
export class SwitchableSession {
  private readonly on = new ort.Tensor('bool', Uint8Array.of(1), []);
  private readonly off = new ort.Tensor('bool', Uint8Array.of(0), []);

  private constructor(readonly graph: SwitchableModel, private readonly session: ort.InferenceSession) {}

  static async create(graph: SwitchableModel, bytes: Uint8Array, options: ort.InferenceSession.SessionOptions = {}): Promise<SwitchableSession> {
    return new SwitchableSession(graph, await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', ...options }));
  }

  /** Runs one batch; `precision[i]` sets matches[i]. `stats`: also fetch the stubs' Σx², Σnoise². */
  async run(feeds: Record<string, ort.Tensor>, precision: ArrayLike<number>, stats = false): Promise<ort.InferenceSession.ReturnType> {
    const f: Record<string, ort.Tensor> = { ...feeds };
    const { flagInputs, wideInputs } = this.graph;
    for (let i = 0; i < flagInputs.length; i++) {
      f[flagInputs[i]!] = precision[i] ? this.on : this.off;
      const w = wideInputs[i];
      if (w) f[w] = precision[i] === Precision.WIDE ? this.on : this.off;
    }
    const names = stats ? [...this.graph.outputs, ...this.graph.stubStats.flatMap((s) => [s.signal, s.noise])] : this.graph.outputs;
    return this.session.run(f, names);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
