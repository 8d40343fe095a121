import type { CheckFinding } from '@qdeploy/core';
import type { CheckContext } from '../context.js';
import { isOnnxOp } from '../ops.js';
import { describe, finding, type CheckRule } from '../rule.js';

/**
 * Residual Adds after a conv: TensorRT fuses Conv(+BN) + Add(·, skip) (+ReLU) when the skip
 * input is INT8 and the conv branch is not quantized. A Q/DQ on the conv branch breaks
 * that fusion; an unquantized skip input leaves the Add in FP16.
 */
export const residualAddRule: CheckRule = {
  name: 'residual-add',
  description: 'Q/DQ on the conv branch of a residual Add; residual Add with an unquantized skip input',
  run(ctx: CheckContext): CheckFinding[] {
    const out: CheckFinding[] = [];
    for (const add of ctx.graph.nodes) {
      if (add.opType !== 'Add' || !isOnnxOp(add)) continue;
      const r = ctx.residual(add);
      if (!r) continue;
      const conv = r.branch.layer;
      const skip = add.input(r.skipIndex)!;
      if (r.branch.pairs.length > 0) {
        const pair = r.branch.pairs[0]!;
        out.push(finding(ctx, 'warning', 'qdq-on-conv-branch', pair.q ?? pair.dq,
          `Q/DQ on the conv branch of residual ${describe(ctx, add)} (output of ${describe(ctx, conv.node)}): TensorRT cannot fuse the Add into the conv; quantize the skip input "${ctx.qdq.underlying(skip).name}" instead and leave the conv branch unquantized`));
      } else if (r.fusable && !r.skipPair && ctx.placement(conv).int8) {
        out.push(finding(ctx, 'warning', 'add-not-fused', add,
          `residual ${describe(ctx, add)}: its skip input "${skip.name}" is not quantized while ${describe(ctx, conv.node)} is INT8, so TensorRT does not fuse the Add into the conv: the conv writes FP16/FP32 and the Add runs in FP16; put a Q/DQ on the skip input`));
      }
    }
    return out;
  },
};
