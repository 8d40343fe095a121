import type { CheckFinding } from '@qdeploy/core';
import type { CheckContext } from '../context.js';
import { finding, type CheckRule } from '../rule.js';

/** Activations are quantized per tensor in TensorRT; per-channel is for weights only. */
export const perChannelActivationRule: CheckRule = {
  name: 'per-channel-activation',
  description: 'per-channel scale on an activation quantizer',
  run(ctx: CheckContext): CheckFinding[] {
    const out: CheckFinding[] = [];
    for (const unit of ctx.qdq.units()) {
      if (unit.kind !== 'activation') continue;
      const pc = unit.nodes.find((n) => ctx.qdq.params(n).perChannel);
      if (!pc) continue;
      const p = ctx.qdq.params(pc);
      out.push(finding(ctx, 'error', 'per-channel-activation', unit.anchor,
        `activation quantizer "${ctx.label(unit.anchor)}" has ${p.scale?.length ?? '?'} scales along axis ${p.axis ?? '?'}: TensorRT quantizes activations per tensor (one scale)`));
    }
    return out;
  },
};
