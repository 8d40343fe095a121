import type { CheckFinding } from '@qdeploy/core';
import type { CheckContext } from '../context.js';
import { describe, finding, type CheckRule } from '../rule.js';

/**
 * Q/DQ pairs inside what TensorRT fuses after a Conv / Gemm: between the layer and its BN
 * (BN can no longer be folded into the weights), its bias Add, or its activation (the
 * activation is no longer fused; the layer writes INT8 that is read back as float).
 * A Q/DQ between a conv and a residual Add is the residual-add rule's.
 */
export const fusionBreaksRule: CheckRule = {
  name: 'fusion-breaks',
  description: 'Q/DQ between a Conv/Gemm and its BN, bias Add or activation',
  run(ctx: CheckContext): CheckFinding[] {
    const out: CheckFinding[] = [];
    for (const layer of ctx.layers) {
      for (const link of ctx.chain(layer).links) {
        if (!link.via || link.kind === 'add') continue;
        const qdqNode = link.via.q ?? link.via.dq;
        const first = link.nodes[0]!, last = link.nodes[link.nodes.length - 1]!;
        const target = link.nodes.length > 1 ? `${link.name} (${describe(ctx, first)} … ${describe(ctx, last)})` : describe(ctx, first);
        const between = `between ${describe(ctx, link.from)} and ${target}`;
        if (link.kind === 'bn') {
          out.push(finding(ctx, 'error', 'qdq-before-bn', qdqNode,
            `Q/DQ ${between}: TensorRT cannot fold the BatchNormalization into ${describe(ctx, layer.node)} (it runs as a separate float Scale layer) and the quantizer sees pre-BN values; fold BN first and quantize the conv input only`));
        } else if (link.kind === 'bias') {
          out.push(finding(ctx, 'warning', 'qdq-before-bias', qdqNode,
            `Q/DQ ${between}: the bias Add is no longer fused into ${describe(ctx, layer.node)}; remove this Q/DQ`));
        } else {
          out.push(finding(ctx, 'warning', 'qdq-before-activation', qdqNode,
            `Q/DQ ${between}: TensorRT no longer fuses the activation (the layer writes INT8 that is dequantized for a separate activation layer); remove this Q/DQ and quantize the activation's output instead`));
        }
      }
    }
    return out;
  },
};
