import { DataType } from '../ir/dtype.js';
import type { Model } from '../ir/model.js';

/**
 * The reduced float type a model carries itself, or null for an FP32 (weakly typed)
 * model: qdeploy's `qdeploy.float` metadata, else FP16 / BF16 initializers, graph
 * inputs / outputs, or Casts to them. What `build` reads to pick a strongly typed build.
 */
export function modelFloatType(model: Model): 'fp16' | 'bf16' | null {
  const meta = model.metadata().get('qdeploy.float');
  if (meta === 'fp16' || meta === 'bf16') return meta;
  const g = model.graph;
  const codes = [
    ...g.initializers().map((v) => v.initializer!.dataType),
    ...[...g.inputs, ...g.outputs].map((v) => v.elemType),
    ...g.nodes.filter((n) => n.opType === 'Cast').map((n) => Number(n.attr('to', 0))),
  ];
  if (codes.includes(DataType.FLOAT16)) return 'fp16';
  if (codes.includes(DataType.BFLOAT16)) return 'bf16';
  return null;
}
