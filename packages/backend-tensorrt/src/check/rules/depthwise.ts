import type { CheckFinding } from '@qdeploy/core';
import type { CheckContext } from '../context.js';
import { describe, finding, type CheckRule } from '../rule.js';

/** Depthwise convs are memory-bound: INT8 gains nothing and forces INT8↔FP16 reformats. */
export const depthwiseRule: CheckRule = {
  name: 'depthwise',
  description: 'quantized depthwise convolutions (reformat risk, no speed-up)',
  run(ctx: CheckContext): CheckFinding[] {
    const out: CheckFinding[] = [];
    for (const layer of ctx.layers) {
      if (!layer.depthwise) continue;
      const p = ctx.placement(layer);
      if (!p.dataPair && !p.weightPair) continue;
      const what = [p.dataPair && 'input', p.weightPair && 'weight'].filter(Boolean).join(' and ');
      out.push(finding(ctx, 'warning', 'quantized-depthwise', layer.node,
        `depthwise ${describe(ctx, layer.node)} has a quantized ${what}: depthwise convs are memory-bound, gain nothing from INT8 and cost INT8↔FP16 reformat layers (and accuracy); leave them unquantized`));
    }
    return out;
  },
};
