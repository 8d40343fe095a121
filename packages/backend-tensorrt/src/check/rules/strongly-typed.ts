import { DataType, DEFAULT_KEEP_FP32_OPS, inferElemTypes, layerNormStatistics, type CheckFinding, type Node, type Value } from '@qdeploy/core';
import type { CheckContext } from '../context.js';
import { ACTIVATION_OPS, INT8_CONSUMER_OPS, isDequantize, isQuantize } from '../ops.js';
import { describe, finding, type CheckRule } from '../rule.js';

const REDUCED = new Set<number>([DataType.FLOAT16, DataType.BFLOAT16]);
const typeName = (t: number | null | undefined) => (t === DataType.FLOAT16 ? 'FP16' : t === DataType.BFLOAT16 ? 'BF16' : t === DataType.FLOAT ? 'FP32' : `type ${t}`);

/** Ops a strongly typed export keeps in FP32 on purpose (qdeploy's policy, ModelOpt AutoCast's). */
const POLICY_FP32 = new Set([...DEFAULT_KEEP_FP32_OPS, 'LayerNormalization']);

/** Producers and consumers whose fusion a Cast in between breaks (TensorRT fuses DQ into the layer, the activation / Add / output Q into it). */
const FUSING_PRODUCER = (n: Node) => isDequantize(n) || INT8_CONSUMER_OPS.has(n.opType) || ACTIVATION_OPS.has(n.opType);
const FUSING_CONSUMER = (n: Node) => isQuantize(n) || INT8_CONSUMER_OPS.has(n.opType) || ACTIVATION_OPS.has(n.opType) || n.opType === 'Add';

/**
 * Strongly typed models (TensorRT 10 --stronglyTyped, TensorRT 11): every tensor's type
 * comes from the graph, so the checker reads the types. A QuantizeLinear whose input type
 * differs from its scale type is invalid; an FP32 node between FP16 neighbours costs two
 * conversions (fine for the FP32 policy's LayerNorm or sum reductions, a slowdown anywhere
 * else); a Cast between a DQ or a layer and what TensorRT would fuse into it splits the fusion.
 * Runs only on models with FP16 / BF16 tensors.
 */
export const stronglyTypedRule: CheckRule = {
  name: 'strongly-typed',
  description: 'strongly typed models: Q input vs scale type, FP32 islands in FP16 regions, Casts that break fusions',
  run(ctx: CheckContext): CheckFinding[] {
    const g = ctx.graph;
    const types = inferElemTypes(g);
    const t = (v: Value | null) => (v ? types.get(v) ?? null : null);
    if (![...types.values()].some((x) => x !== null && REDUCED.has(x))) return [];
    const out: CheckFinding[] = [];
    for (const q of g.nodes.filter(isQuantize)) {
      const [x, s] = [t(q.input(0)), t(q.input(1))];
      if (x !== null && s !== null && x !== s) {
        out.push(finding(ctx, 'error', 'q-scale-type', q, `${describe(ctx, q)} quantizes a ${typeName(x)} tensor with a ${typeName(s)} scale: QuantizeLinear needs both of one type (opset 19 allows FP16 / BF16 scales); a strongly typed build rejects it`));
      }
    }
    const policy = new Set([...layerNormStatistics(g)]);
    const castFrom = (v: Value | null, to: number | null) => {
      const p = v?.producer;
      return p?.opType === 'Cast' && REDUCED.has(t(p.input(0)) ?? -1) && (to === null || Number(p.attr('to', 0)) === to);
    };
    for (const n of g.nodes) {
      if (n.opType === 'Cast' || isQuantize(n) || isDequantize(n)) continue;
      const floatIn = n.inputs.filter((v) => t(v) === DataType.FLOAT && !v!.constant());
      const floatOut = n.outputs.filter((v) => t(v) === DataType.FLOAT);
      if (!floatIn.length || !floatOut.length) continue;
      const fromReduced = floatIn.every((v) => castFrom(v, DataType.FLOAT));
      const toReduced = floatOut.every((v) => v.uses.length > 0 && v.uses.every((u) => u.node.opType === 'Cast' && REDUCED.has(Number(u.node.attr('to', 0)))));
      if (!fromReduced || !toReduced) continue;
      const intended = POLICY_FP32.has(n.opType) || policy.has(n);
      out.push(finding(ctx, intended ? 'info' : 'warning', 'fp32-island', n, intended
        ? `${describe(ctx, n)} runs in FP32 between FP16 layers, as the FP32 policy asks (overflow / precision)`
        : `${describe(ctx, n)} runs in FP32 inside an FP16 region: two conversions for nothing unless its values need FP32 (then keep it)`));
    }
    for (const c of g.nodes.filter((n) => n.opType === 'Cast')) {
      const p = c.input(0)?.producer;
      const readers = c.output().uses.map((u) => u.node);
      const FLOATS: number[] = [DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16];
      const chain = p?.opType === 'Cast' ? [t(p.input(0)), t(p.output()), t(c.output())] : [];
      if (p?.opType === 'Cast' && chain.every((x) => x !== null && FLOATS.includes(x)) && chain.some((x) => REDUCED.has(x!))) {
        out.push(finding(ctx, 'warning', 'cast-pair', c, `${describe(ctx, p)} → ${describe(ctx, c)}: a Cast round trip; TensorRT keeps both conversions and the fusion across them is lost`));
        continue;
      }
      const broken = readers.filter(FUSING_CONSUMER);
      if (p && FUSING_PRODUCER(p) && broken.length) {
        out.push(finding(ctx, 'warning', 'cast-breaks-fusion', c, `${describe(ctx, c)} sits between ${describe(ctx, p)} and ${describe(ctx, broken[0]!)}: TensorRT cannot fuse across a Cast, so the pair runs as separate kernels with a conversion between`));
      }
    }
    return out;
  },
};
