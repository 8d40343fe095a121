import { DataType } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';

const BOOL_OPS = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);
const INT64_OPS = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin', 'NonMaxSuppression']);

/** Output element types of one node, from its inputs' types and its attributes (null: unknown). */
function outputTypes(n: Node, typeOf: (v: Value | null) => number | null): (number | null)[] {
  const all = (t: number | null) => n.outputs.map(() => t);
  if (n.domain !== '' && n.domain !== 'ai.onnx') return n.outputs.map((o) => o.elemType);
  switch (n.opType) {
    case 'Cast': return all(Number(n.attr('to', 0)) || null);
    case 'CastLike': return all(typeOf(n.input(1)));
    case 'QuantizeLinear': return all(n.input(2) ? typeOf(n.input(2)) : Number(n.attr('output_dtype', 0)) || DataType.UINT8);
    case 'DequantizeLinear': return all(typeOf(n.input(1)));
    case 'Constant': return all(n.constantValue()?.dataType ?? null);
    case 'ConstantOfShape': { const t = n.attr('value'); return all(t && typeof t === 'object' && 'dataType' in t ? t.dataType : DataType.FLOAT); }
    case 'Where': return all(typeOf(n.input(1)));
    case 'TopK': return [typeOf(n.input(0)), DataType.INT64];
    case 'MaxPool': return [typeOf(n.input(0)), DataType.INT64];
    case 'Dropout': return [typeOf(n.input(0)), DataType.BOOL];
    default:
      if (BOOL_OPS.has(n.opType)) return all(DataType.BOOL);
      if (INT64_OPS.has(n.opType)) return all(DataType.INT64);
      if (n.hasSubgraphs()) return n.outputs.map((o) => o.elemType);
      return all(typeOf(n.input(0)) ?? n.inputs.map(typeOf).find((t) => t !== null) ?? null);
  }
}

/**
 * The element type of every value, inferred through the graph (nodes in order): what
 * exporters leave out of value_info. Declared types win where the inference has none.
 */
export function inferElemTypes(g: Graph): Map<Value, number | null> {
  const types = new Map<Value, number | null>();
  const typeOf = (v: Value | null): number | null => (v ? (types.has(v) ? types.get(v)! : v.elemType) : null);
  for (const v of g.inputs) types.set(v, v.elemType);
  for (const v of g.initializers()) types.set(v, v.initializer!.dataType);
  for (const n of g.nodes) {
    const ts = outputTypes(n, typeOf);
    n.outputs.forEach((o, i) => types.set(o, ts[i] ?? o.elemType));
  }
  return types;
}
