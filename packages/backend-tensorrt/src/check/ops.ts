import type { Node } from '@qdeploy/core';

/**
 * Op classification the checker shares: what TensorRT treats as a weighted layer, an
 * activation it fuses, and the ops a DequantizeLinear is moved forward through.
 */

/** True for ops of the default ONNX domain. */
export const isOnnxOp = (n: Node): boolean => n.domain === '' || n.domain === 'ai.onnx';

export const isQuantize = (n: Node | null | undefined): boolean =>
  !!n && n.opType === 'QuantizeLinear' && (isOnnxOp(n) || n.domain === 'com.microsoft');
export const isDequantize = (n: Node | null | undefined): boolean =>
  !!n && n.opType === 'DequantizeLinear' && (isOnnxOp(n) || n.domain === 'com.microsoft');

/**
 * Single-data-input ops that commute with (de)quantization: TensorRT propagates a DQ
 * forward (and a Q backward) through them, so a DQ before a Reshape still quantizes the
 * op after it. Only input 0 is data.
 */
export const DQ_COMMUTING_OPS: ReadonlySet<string> = new Set([
  'Identity', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Transpose', 'MaxPool', 'GlobalMaxPool',
  'Slice', 'Pad', 'Expand', 'DepthToSpace', 'SpaceToDepth', 'Gather', 'Split',
]);

/** Ops through which a constant weight may reach its layer (PyTorch Identity, ModelOpt Transpose...). */
export const WEIGHT_PATH_OPS: ReadonlySet<string> = new Set(['Identity', 'Transpose', 'Reshape', 'Unsqueeze', 'Squeeze', 'Flatten', 'Cast']);

/** Single-op activations TensorRT fuses into a preceding Conv / Gemm (+BN, +Add). */
export const ACTIVATION_OPS: ReadonlySet<string> = new Set([
  'Relu', 'Clip', 'LeakyRelu', 'PRelu', 'Elu', 'Selu', 'Celu', 'ThresholdedRelu', 'HardSwish', 'HardSigmoid',
  'Gelu', 'Sigmoid', 'Tanh', 'Softplus', 'Softsign', 'Mish',
]);

/** Convolution-like layers (weights KCRS / CKRS). */
export const CONV_OPS: ReadonlySet<string> = new Set(['Conv', 'ConvTranspose']);

/** Ops that consume a quantized input in INT8 (so a Q/DQ in front of them pays off). */
export const INT8_CONSUMER_OPS: ReadonlySet<string> = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

/** Ops TensorRT rejects in a QDQ model: only QuantizeLinear / DequantizeLinear are explicit quantization. */
export const INTEGER_OPS: ReadonlySet<string> = new Set([
  'QLinearConv', 'QLinearMatMul', 'ConvInteger', 'MatMulInteger', 'DynamicQuantizeLinear',
  // onnxruntime contrib ops (com.microsoft)
  'QGemm', 'QLinearAdd', 'QLinearMul', 'QLinearAveragePool', 'QLinearGlobalAveragePool', 'QLinearConcat',
  'QLinearSigmoid', 'QLinearLeakyRelu', 'QLinearSoftmax', 'QAttention', 'DynamicQuantizeMatMul', 'MatMulIntegerToFloat',
]);

/** A label for a node in findings: its name, or its op type and position when unnamed. */
export function nodeLabel(n: Node, position?: number): string {
  if (n.name) return n.name;
  return position === undefined ? n.opType : `${n.opType}#${position}`;
}

/** Output-channel axis of a weight as its layer reads it (where per-channel scales must lie). */
export function expectedWeightAxis(n: Node, weightIndex: number, weightRank: number): number | null {
  switch (n.opType) {
    case 'Conv': return 0; // KCRS
    case 'ConvTranspose': return 1; // CKRS
    case 'Gemm':
      if (weightIndex === 1) return Number(n.attr('transB', 0)) ? 0 : 1; // B is [N,K] with transB, else [K,N]
      return Number(n.attr('transA', 0)) ? 1 : 0; // A is [M,K] (or [K,M] with transA)
    case 'MatMul':
      return weightIndex === 1 ? weightRank - 1 : weightRank - 2; // X·W: W [...,K,N] → N; W·X: W [...,M,K] → M
    default: return null;
  }
}
