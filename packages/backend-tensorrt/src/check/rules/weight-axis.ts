import type { CheckFinding } from '@qdeploy/core';
import type { CheckContext } from '../context.js';
import { expectedWeightAxis } from '../ops.js';
import { describe, finding, type CheckRule } from '../rule.js';

/**
 * Per-channel weight scales must lie along the output-channel axis: Conv KCRS → 0,
 * ConvTranspose → 1, Gemm → 0 with transB=1 else 1, MatMul weight → its last axis. A
 * Transpose between the DQ and the layer is followed; a Reshape makes the axis unknowable
 * and is skipped.
 */
export const weightAxisRule: CheckRule = {
  name: 'weight-axis',
  description: 'per-channel weight quantization along an axis other than the output channels',
  run(ctx: CheckContext): CheckFinding[] {
    const out: CheckFinding[] = [];
    for (const layer of ctx.layers) {
      const pair = ctx.qdq.weightPair(layer.node, layer.weightIndex);
      if (!pair) continue;
      const nodes = pair.q ? [pair.q, pair.dq] : [pair.dq];
      const pc = nodes.find((n) => ctx.qdq.params(n).perChannel);
      if (!pc) continue;
      let axis = ctx.qdq.params(pc).axis;
      let rank = pair.constant?.dims.length ?? null;
      let known = axis !== null && axis >= 0;
      for (const p of ctx.qdq.weightPath(layer.node, layer.weightIndex)) {
        if (p.opType === 'Transpose') {
          const perm = (p.attr('perm') as number[] | undefined) ?? (rank !== null ? Array.from({ length: rank }, (_, i) => rank! - 1 - i) : null);
          if (!perm || axis === null) { known = false; break; }
          axis = perm.indexOf(axis);
        } else if (p.opType !== 'Identity' && p.opType !== 'Cast') {
          known = false; // Reshape / Squeeze / ... : the axis cannot be followed
          break;
        }
      }
      if (!known || axis === null || rank === null) continue;
      const want = expectedWeightAxis(layer.node, layer.weightIndex, rank);
      if (want === null || want === axis) continue;
      out.push(finding(ctx, 'error', 'wrong-weight-axis', pair.dq,
        `weight of ${describe(ctx, layer.node)} is quantized per channel along axis ${axis}, but its output channels are axis ${want}${layer.node.opType === 'Gemm' ? ` (transB=${Number(layer.node.attr('transB', 0))})` : ''}: TensorRT needs per-channel scales on the output-channel axis`));
    }
    return out;
  },
};
