import { DataType } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { FLOAT_MAX, type FloatPrecision } from './fp16.js';

/**
 * Which ops of a strongly typed export stay in FP32 while the rest runs in FP16 / BF16.
 * The rules follow NVIDIA ModelOpt's AutoCast (a node stays FP32 when a value it reads or
 * writes on reference data exceeds `data_max`, or an initializer exceeds the type's range)
 * and TensorRT's own warnings (LayerNorm statistics overflow in FP16; sums over many
 * elements lose precision). Every decision is reported with its rule.
 */
export interface FloatPolicy {
  /** A node whose inputs or outputs reached |x| > dataMax on the reference data stays FP32 (AutoCast's default 512, where FP16's step is 0.5). */
  dataMax: number;
  /** Op types always kept in FP32 (sum-type reductions, ops without an FP16 schema). */
  keepOps: string[];
  /** Keep LayerNorm statistics (LayerNormalization, or the mean / variance / normalise nodes of its decomposed form) in FP32. */
  layerNorm: boolean;
  /** Node names or op types kept in FP32 whatever the rules say. */
  exclude: string[];
  /** Node names or op types put in the reduced type whatever the rules say (except ops with float-only inputs). */
  include: string[];
}

export type FloatPolicyInput = Partial<FloatPolicy>;

/** Reductions that sum (their result grows with the reduced size) and ops with no FP16 schema or kernel. */
export const DEFAULT_KEEP_FP32_OPS: readonly string[] = [
  'ReduceSum', 'ReduceSumSquare', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceProd', 'CumSum',
  'Upsample', 'NonMaxSuppression', 'RoiAlign', 'Range',
];

export function floatPolicy(p: FloatPolicyInput = {}): FloatPolicy {
  const dataMax = p.dataMax ?? 512;
  if (!(dataMax > 0)) throw new Error(`float policy: dataMax must be a positive number, got ${String(p.dataMax)}`);
  return { dataMax, keepOps: [...(p.keepOps ?? DEFAULT_KEEP_FP32_OPS)], layerNorm: p.layerNorm ?? true, exclude: [...(p.exclude ?? [])], include: [...(p.include ?? [])] };
}

/** Why a node stays FP32. */
export interface KeptNode {
  node: string;
  opType: string;
  rule: 'op' | 'layernorm' | 'range' | 'initializer' | 'exclude';
  why: string;
}

/** The single consumer of `v` among `ops`, if exactly one. */
function next(v: Value | undefined, ops: readonly string[]): Node | undefined {
  const c = v?.uses.map((u) => u.node).filter((n) => ops.includes(n.opType)) ?? [];
  return c.length === 1 ? c[0] : undefined;
}

/** The statistics nodes of decomposed LayerNorms: mean, x − mean, its square, variance, + ε, √, 1/σ, the normalise. */
export function layerNormStatistics(g: Graph): Node[] {
  const out: Node[] = [];
  for (const mean of g.nodes) {
    if (mean.opType !== 'ReduceMean') continue;
    const x = mean.input(0);
    const sub = mean.output().uses.map((u) => u.node).find((n) => n.opType === 'Sub' && n.input(0) === x && n.input(1) === mean.output());
    if (!sub) continue;
    const c = sub.output();
    const sq = c.uses.map((u) => u.node).find((n) => (n.opType === 'Pow' && n.input(0) === c) || (n.opType === 'Mul' && n.input(0) === c && n.input(1) === c));
    const variance = next(sq?.output(), ['ReduceMean']);
    const eps = next(variance?.output(), ['Add']);
    const sqrt = next(eps?.output(), ['Sqrt']);
    if (!sq || !variance || !eps || !sqrt) continue;
    const recip = next(sqrt.output(), ['Reciprocal']);
    const std = (recip ?? sqrt).output();
    const norm = c.uses.map((u) => u.node).find((n) => (n.opType === 'Div' || n.opType === 'Mul') && n.inputs.includes(std));
    out.push(...[mean, sub, sq, variance, eps, sqrt, recip, norm].filter((n): n is Node => n !== undefined));
  }
  return out;
}

/** Max |x| of a value on the reference data: its own, or (a DequantizeLinear's output) the quantized tensor's. */
export function rangeOf(v: Value, ranges: Readonly<Record<string, number>>): number | undefined {
  if (ranges[v.name] !== undefined) return ranges[v.name];
  const dq = v.producer;
  if (dq?.opType === 'DequantizeLinear') {
    const q = dq.input(0)?.producer;
    if (q?.opType === 'QuantizeLinear' && q.input(0)) return ranges[q.input(0)!.name];
  }
  return undefined;
}

const named = (n: Node, list: readonly string[]) => list.includes(n.name) || list.includes(n.opType);

/**
 * The float nodes that stay FP32 under `policy` for a `target` precision, and why.
 * `ranges` (max |x| per tensor name, from `measureFloatRanges`) feeds the data rule;
 * without it that rule does not apply. Q/DQ nodes are not decided here (they follow
 * their neighbours).
 */
export function keepInFp32(
  g: Graph,
  isFloat: (v: Value | null) => boolean,
  policy: FloatPolicy,
  target: FloatPrecision,
  ranges?: Readonly<Record<string, number>>,
): Map<Node, KeptNode> {
  const kept = new Map<Node, KeptNode>();
  const keep = (n: Node, rule: KeptNode['rule'], why: string) => {
    if (!kept.has(n) && !named(n, policy.include)) kept.set(n, { node: n.name, opType: n.opType, rule, why });
  };
  const decided = (n: Node) => n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear' || n.opType === 'Cast' || n.opType === 'Constant';
  for (const n of g.nodes) {
    if (decided(n) || ![...n.inputs, ...n.outputs].some(isFloat)) continue;
    if (named(n, policy.exclude)) { kept.set(n, { node: n.name, opType: n.opType, rule: 'exclude', why: 'excluded by the policy' }); continue; }
    if (policy.keepOps.includes(n.opType)) keep(n, 'op', `${n.opType} is on the FP32 op list`);
    if (policy.layerNorm && n.opType === 'LayerNormalization') keep(n, 'layernorm', 'LayerNorm statistics overflow / lose precision in FP16');
    for (const v of n.inputs) {
      const t = v?.constant();
      if (!t || t.dataType !== DataType.FLOAT || target === 'bf16') continue;
      const data = t.toFloat32();
      let max = 0;
      for (let i = 0; i < data.length; i++) { const a = Math.abs(data[i]!); if (a > max) max = a; }
      if (max > FLOAT_MAX[target]) keep(n, 'initializer', `initializer "${v!.name}" holds |x| = ${max.toPrecision(4)} > ${FLOAT_MAX[target]}`);
    }
    if (ranges) {
      for (const v of [...n.inputs, ...n.outputs]) {
        if (!v || !isFloat(v) || v.constant()) continue;
        const r = rangeOf(v, ranges);
        if (r !== undefined && r > policy.dataMax) { keep(n, 'range', `"${v.name}" reached |x| = ${r.toPrecision(4)} > dataMax ${policy.dataMax} on the reference data`); break; }
      }
    }
  }
  if (policy.layerNorm) for (const n of layerNormStatistics(g)) keep(n, 'layernorm', 'decomposed LayerNorm statistics (mean, variance, normalise) stay FP32');
  return kept;
}
