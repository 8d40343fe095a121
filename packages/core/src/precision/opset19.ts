import { DataType } from '../ir/dtype.js';
import type { Model } from '../ir/model.js';
import { Tensor } from '../ir/tensor.js';

/** Opset where QuantizeLinear / DequantizeLinear accept FP16 / BF16 scales (before it, scales are FP32). */
export const LOW_PRECISION_QDQ_OPSET = 19;

/** Reductions whose `axes` moved from an attribute to an input at opset 18 (ReduceSum did at 13). */
const AXES_TO_INPUT_AT_18 = new Set([
  'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceMax', 'ReduceMean', 'ReduceMin', 'ReduceProd', 'ReduceSumSquare',
]);

/**
 * Moves a model (opset 13–18) to ai.onnx opset 19 in place, so its Q/DQ may carry FP16
 * scales: the one change between 13 and 19 that rewrites existing nodes is the reductions'
 * `axes` attribute becoming an input (opset 18); every other op kept its meaning. IR
 * version 9 goes with opset 19. Returns the opset it had.
 */
export function upgradeToOpset19(model: Model): number {
  const from = model.opset('') ?? 0;
  if (from >= LOW_PRECISION_QDQ_OPSET) return from;
  if (from < 13) throw new Error(`the model imports ONNX opset ${from}; strongly typed export needs opset 13 or newer`);
  const g = model.graph;
  if (from < 18) {
    for (const n of g.nodes) {
      if (!AXES_TO_INPUT_AT_18.has(n.opType) || (n.domain !== '' && n.domain !== 'ai.onnx')) continue;
      const axes = n.attr('axes') as number[] | undefined;
      n.attributes.delete('axes');
      if (axes === undefined) continue;
      const t = g.addInitializer(g.uniqueName(`${n.name || n.opType}_axes`), Tensor.fromArray(BigInt64Array.from(axes.map(BigInt)), [axes.length], DataType.INT64));
      n.setInput(1, t);
    }
  }
  model.setOpset('', LOW_PRECISION_QDQ_OPSET);
  if (Number(model.header.irVersion ?? 0) < 9) model.header = { ...model.header, irVersion: 9 };
  return from;
}
