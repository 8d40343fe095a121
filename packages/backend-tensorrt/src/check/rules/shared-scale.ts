import type { CheckFinding, Node, Value } from '@qdeploy/core';
import type { CheckContext } from '../context.js';
import { isDequantize, isOnnxOp, isQuantize } from '../ops.js';
import { describe, finding, type CheckRule } from '../rule.js';

/**
 * Ops TensorRT moves Q/DQ across, or merges the tensors of, only when the scales around
 * them are equal (Concat elimination; MaxPool, nearest Resize, Split and Slice commute
 * with Q/DQ). Sources: NVIDIA yolo_deepstream's QAT guide and rules.py, ModelOpt's
 * concat handling, the TensorRT developer guide's Q/DQ propagation.
 */
const SCALE_PASSING = new Set(['Concat', 'MaxPool', 'Resize', 'Upsample', 'Split', 'Slice']);

const isData = (v: Value | null): v is Value => v !== null && v.constant() === null;

/** The per-tensor scales quantizing `v`: the DQ producing it, and every Q reading it. */
function scalesOn(ctx: CheckContext, v: Value): { node: Node; scale: number }[] {
  const out: { node: Node; scale: number }[] = [];
  const add = (n: Node) => {
    const s = ctx.qdq.params(n).scale;
    if (s && s.length === 1) out.push({ node: n, scale: s[0]! });
  };
  if (isDequantize(v.producer)) add(v.producer!);
  for (const u of v.uses) if (isQuantize(u.node) && u.index === 0) add(u.node);
  return out;
}

function dataTensors(n: Node): Value[] {
  const ins = n.opType === 'Concat' ? n.inputs.filter(isData) : n.inputs.slice(0, 1).filter(isData);
  return [...ins, ...n.outputs];
}

/**
 * Unequal scales around a scale-passing op (TensorRT keeps a requantize or an
 * INT8↔FP16 reformat there), and Concats that run in FP16 between INT8 producers and
 * consumers because their Q/DQ do not agree.
 */
export const sharedScaleRule: CheckRule = {
  name: 'shared-scale',
  description: 'unequal Q/DQ scales around Concat / MaxPool / nearest Resize / Split (TensorRT needs them equal)',
  run(ctx: CheckContext): CheckFinding[] {
    const out: CheckFinding[] = [];
    for (const n of ctx.graph.nodes) {
      if (!SCALE_PASSING.has(n.opType) || !isOnnxOp(n)) continue;
      if (n.opType === 'Resize' && n.attr('mode', 'nearest') !== 'nearest') continue;
      const tensors = dataTensors(n);
      const found = tensors.flatMap((v) => scalesOn(ctx, v));
      const distinct = [...new Set(found.map((f) => f.scale))];
      if (distinct.length < 2) continue;
      const shown = distinct.slice(0, 4).map((s) => s.toPrecision(4)).join(', ');
      if (n.opType === 'Concat') {
        const producerInt8 = n.inputs.some((v) => isData(v) && scalesOn(ctx, v).length > 0);
        const consumerInt8 = n.outputs.some((v) => v.uses.some((u) => isQuantize(u.node)));
        if (producerInt8 && consumerInt8) {
          out.push(finding(ctx, 'warning', 'concat-fp16', n,
            `${describe(ctx, n)} sits between INT8 producers and an INT8 consumer, but its Q/DQ use ${distinct.length} different scales (${shown}): TensorRT cannot merge the tensors in INT8 and runs the Concat in FP16 with reformats; give its inputs and output one scale (calibrate them as one group)`));
          continue;
        }
      }
      out.push(finding(ctx, 'warning', 'unequal-shared-scale', n,
        `${describe(ctx, n)}: the Q/DQ on its inputs and outputs use ${distinct.length} different scales (${shown}); TensorRT moves Q/DQ across it only when they are equal, so a requantize or an INT8↔FP16 reformat stays`));
    }
    return out;
  },
};
