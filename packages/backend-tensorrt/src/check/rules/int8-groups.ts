import type { CheckFinding } from '@qdeploy/core';
import type { CheckContext } from '../context.js';
import { describe, finding, type CheckRule } from '../rule.js';

/** Per weighted layer: the INT8 group TensorRT builds, a float layer, or a half-quantized one. */
export const int8GroupsRule: CheckRule = {
  name: 'int8-groups',
  description: 'INT8 conv/linear groups TensorRT fuses (input + weight quantized), float layers, half-quantized layers',
  run(ctx: CheckContext): CheckFinding[] {
    const out: CheckFinding[] = [];
    for (const layer of ctx.layers) {
      const p = ctx.placement(layer);
      const n = layer.node;
      if (p.int8) {
        const fused = p.members.slice(1).map((m) => describe(ctx, m));
        const perChannel = p.weightPair && ctx.qdq.params(p.weightPair.dq).perChannel ? 'per-channel' : 'per-tensor';
        out.push(finding(ctx, 'info', 'int8-group', n,
          `INT8 ${describe(ctx, n)}${fused.length ? ` fused with ${fused.join(' + ')}` : ''}: INT8 input, INT8 ${perChannel} weights, ${p.outputInt8 ? 'INT8' : 'FP16/FP32'} output`));
      } else if (p.dataPair || p.weightPair) {
        out.push(finding(ctx, 'warning', 'partial-quantization', n,
          p.dataPair
            ? `${describe(ctx, n)} has a quantized input but float weights: TensorRT runs it in FP16/FP32 and the input Q/DQ only costs a reformat; add a weight DQ or drop the input Q/DQ`
            : `${describe(ctx, n)} has quantized weights but a float input: TensorRT cannot run it as an INT8 kernel; quantize its input (or drop the weight DQ)`));
      } else {
        out.push(finding(ctx, 'info', 'float-layer', n,
          `${describe(ctx, n)} runs in FP16/FP32 (no Q/DQ on its input or weight)${layer.depthwise ? '; depthwise, as recommended' : ''}`));
      }
    }
    return out;
  },
};
