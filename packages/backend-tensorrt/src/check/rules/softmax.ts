import type { CheckFinding } from '@qdeploy/core';
import type { CheckContext } from '../context.js';
import { isOnnxOp } from '../ops.js';
import { floatReadQdq } from '../output-qdq.js';
import { describe, finding, type CheckRule } from '../rule.js';

/**
 * Softmax runs in float: a quantized input only adds a reformat, and its output Q/DQ pays
 * off only for the softmax·V MatMul.
 */
export const softmaxRule: CheckRule = {
  name: 'softmax',
  description: 'quantized Softmax input; Softmax output quantized for float readers',
  run(ctx: CheckContext): CheckFinding[] {
    const out: CheckFinding[] = [];
    for (const n of ctx.graph.nodes) {
      if (n.opType !== 'Softmax' || !isOnnxOp(n)) continue;
      const pair = ctx.qdq.inputPair(n, 0);
      if (pair) {
        out.push(finding(ctx, 'warning', 'quantized-softmax', n,
          `${describe(ctx, n)} reads a dequantized INT8 tensor ("${pair.source.name}"): Softmax runs in float (and TensorRT's fused attention keeps Q·Kᵀ's output in float); leave its input unquantized`));
      }
      for (const f of floatReadQdq(ctx, n.output(0))) {
        const readers = f.floatReaders.map((r) => describe(ctx, r)).concat(f.graphOutput ? ['a graph output'] : []);
        out.push(finding(ctx, 'warning', 'softmax-output-quantized', f.pair.q ?? f.pair.dq,
          `output of ${describe(ctx, n)} is quantized but read as float by ${readers.join(', ')}: only the softmax·V MatMul gains from it`));
      }
    }
    return out;
  },
};
