import { DataType, Tensor, dataTypeName, type Node, type Value } from '@qdeploy/core';

/** Ops whose output is always an integer index / size tensor. */
const INT64_OPS = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin', 'NonMaxSuppression']);
/** Comparisons and logic: bool outputs. */
const BOOL_OPS = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);
/** Ops that only compute on floating-point tensors (their output has their input's float type). */
const FLOAT_OPS = new Set([
  'Conv', 'ConvTranspose', 'Gemm', 'BatchNormalization', 'LayerNormalization', 'InstanceNormalization', 'GroupNormalization',
  'Softmax', 'LogSoftmax', 'GlobalAveragePool', 'AveragePool', 'GlobalMaxPool', 'LpPool', 'Relu', 'LeakyRelu', 'PRelu',
  'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Erf', 'Gelu', 'Elu', 'Selu', 'Softplus', 'Sqrt', 'Exp', 'Log',
  'Reciprocal', 'Pow', 'ReduceMean', 'DequantizeLinear', 'Resize', 'Dropout',
]);

/**
 * The element type of a tensor, inferred from value_info when the exporter wrote it, or
 * by walking back through its producers (exporters often omit value_info for shape
 * computations: Shape → Gather → Unsqueeze → Concat). Null when nothing tells.
 */
export function elemTypeOf(v: Value): number | null {
  let cur: Value | null = v;
  for (let steps = 0; cur && steps < 10_000; steps++) {
    if (cur.elemType !== null) return cur.elemType;
    const t = cur.constant();
    if (t) return t.dataType;
    const p: Node | null = cur.producer;
    if (!p || p.domain !== '') return null;
    if (INT64_OPS.has(p.opType)) return DataType.INT64;
    if (BOOL_OPS.has(p.opType)) return DataType.BOOL;
    if (FLOAT_OPS.has(p.opType)) return DataType.FLOAT;
    if (p.opType === 'Cast') return Number(p.attr('to', DataType.FLOAT));
    if (p.opType === 'QuantizeLinear') return p.input(2)?.elemType ?? DataType.UINT8;
    if (p.opType === 'ConstantOfShape') {
      const value = p.attr('value');
      return value instanceof Tensor ? value.dataType : DataType.FLOAT;
    }
    // Where(cond, x, y) has x's type; everything else (data movement, arithmetic) its first input's.
    cur = p.opType === 'Where' ? p.input(1) : p.inputs.find((x): x is Value => x !== null) ?? null;
  }
  return null;
}

/** A float tensor computed at run time: what an activation quantizer can observe. */
export function isFloatActivation(v: Value): true | string {
  if (v.constant() !== null) return 'is a constant';
  const t = elemTypeOf(v);
  return t === null || t === DataType.FLOAT || `is ${dataTypeName(t)}, not float32`;
}
