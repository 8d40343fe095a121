import type { Model } from '@qdeploy/core';

/**
 * Ops onnxruntime's CPU provider writes when a QDQ group was fused into an integer
 * kernel (com.microsoft contrib ops and the ONNX QLinear ops).
 */
export const INTEGER_OPS = new Set([
  'QLinearConv', 'QLinearMatMul', 'QGemm', 'MatMulIntegerToFloat', 'DynamicQuantizeMatMul', 'ConvInteger', 'MatMulInteger',
  'QLinearAdd', 'QLinearMul', 'QLinearGlobalAveragePool', 'QLinearAveragePool', 'QLinearConcat', 'QLinearLeakyRelu',
  'QLinearSigmoid', 'QLinearSoftmax', 'QLinearReduceMean', 'QLinearWhere', 'QAttention', 'QEmbedLayerNormalization',
  'NhwcMaxPool',
]);

/** Compute-heavy float ops: one of these left in a quantized model's optimised graph runs in FP32. */
export const FLOAT_COMPUTE_OPS = new Set(['Conv', 'FusedConv', 'ConvTranspose', 'Gemm', 'FusedGemm', 'MatMul', 'FusedMatMul', 'Add', 'Mul', 'GlobalAveragePool', 'AveragePool']);

export interface FusionSummary {
  /** Every op type in the optimised graph, with counts. */
  ops: Record<string, number>;
  /** Integer kernels (QLinearConv, QLinearAdd, QGemm, ...). */
  integer: Record<string, number>;
  /** Compute ops still running in float. */
  float: Record<string, number>;
  /** Q/DQ nodes left over (each is a float↔int8 conversion at run time; one Q on the graph input is expected). */
  quantizeLinear: number;
  dequantizeLinear: number;
}

/** Classifies the ops of an onnxruntime-optimised graph. */
export function summarizeFusions(optimised: Model): FusionSummary {
  const ops: Record<string, number> = {};
  for (const n of optimised.graph.nodes) ops[n.opType] = (ops[n.opType] ?? 0) + 1;
  const pick = (set: Set<string>) => Object.fromEntries(Object.entries(ops).filter(([k]) => set.has(k)));
  return {
    ops,
    integer: pick(INTEGER_OPS),
    float: pick(FLOAT_COMPUTE_OPS),
    quantizeLinear: ops.QuantizeLinear ?? 0,
    dequantizeLinear: ops.DequantizeLinear ?? 0,
  };
}

export function formatCounts(c: Record<string, number>): string {
  const e = Object.entries(c).sort(([a], [b]) => a.localeCompare(b));
  return e.length ? e.map(([k, v]) => `${k} ×${v}`).join(', ') : 'none';
}
