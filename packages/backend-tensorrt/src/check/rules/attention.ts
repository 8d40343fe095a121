import type { CheckFinding, Node, Value } from '@qdeploy/core';
import type { CheckContext } from '../context.js';
import { DQ_COMMUTING_OPS, isOnnxOp } from '../ops.js';
import { describe, finding, type CheckRule } from '../rule.js';

/** The op producing `v`, looking back through Q/DQ and Reshape/Transpose-like ops. */
function origin(ctx: CheckContext, v: Value | null): Node | null {
  let cur = v;
  for (let hops = 0; cur && hops < 32; hops++) {
    cur = ctx.qdq.underlying(cur);
    const p = cur.producer;
    if (!p || !DQ_COMMUTING_OPS.has(p.opType)) return p;
    cur = p.input(0);
  }
  return null;
}

/**
 * MatMuls of two activations (attention's Q·Kᵀ and softmax·V): TensorRT runs them in INT8
 * (and fuses INT8 MHA) only when both inputs are quantized; with one side quantized the
 * Q/DQ buys nothing but a reformat.
 */
export const attentionRule: CheckRule = {
  name: 'attention',
  description: 'activation×activation MatMuls (Q·Kᵀ, softmax·V) with only one input quantized',
  run(ctx: CheckContext): CheckFinding[] {
    const out: CheckFinding[] = [];
    for (const n of ctx.graph.nodes) {
      if ((n.opType !== 'MatMul' && n.opType !== 'Gemm') || !isOnnxOp(n) || ctx.layerOf(n)) continue;
      const a = n.input(0), b = n.input(1);
      if (!a || !b || ctx.qdq.constSource(a) || ctx.qdq.constSource(b)) continue;
      const qa = ctx.qdq.inputPair(n, 0), qb = ctx.qdq.inputPair(n, 1);
      if (!qa === !qb) continue;
      const role = origin(ctx, a)?.opType === 'Softmax' ? 'softmax·V' : 'Q·Kᵀ';
      const [pair, plain] = qa ? [qa, b] : [qb!, a];
      out.push(finding(ctx, 'warning', 'attention-one-sided', n,
        `${role} ${describe(ctx, n)} has only one quantized input ("${pair.source.name}"; "${plain.name}" is float): TensorRT runs it in FP16 and the Q/DQ only adds a reformat; quantize both inputs (INT8 MHA) or neither`));
    }
    return out;
  },
};
