import type { CheckFinding } from '@qdeploy/core';
import type { CheckContext } from '../context.js';
import { isOnnxOp } from '../ops.js';
import { describe, finding, type CheckRule } from '../rule.js';

const AVERAGE_POOLS = new Set(['AveragePool', 'GlobalAveragePool']);

/** (Global) average pooling is memory-bound: a quantized input only adds reformats. */
export const poolingRule: CheckRule = {
  name: 'pooling',
  description: 'quantized AveragePool / GlobalAveragePool input (reformat risk, no speed-up)',
  run(ctx: CheckContext): CheckFinding[] {
    const out: CheckFinding[] = [];
    for (const n of ctx.graph.nodes) {
      if (!AVERAGE_POOLS.has(n.opType) || !isOnnxOp(n)) continue;
      const pair = ctx.qdq.inputPair(n, 0);
      if (!pair) continue;
      out.push(finding(ctx, 'warning', 'quantized-pooling', n,
        `${describe(ctx, n)} reads a dequantized INT8 tensor ("${pair.source.name}"): average pooling is memory-bound, gains nothing from INT8 and forces reformat layers; leave its input unquantized`));
    }
    return out;
  },
};
