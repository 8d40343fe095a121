import type { Node, Tensor } from '@qdeploy/core';
import { CONV_OPS, isOnnxOp } from './ops.js';
import type { QdqGraph } from './qdq-graph.js';

/**
 * A weighted layer as TensorRT sees it: Conv / ConvTranspose, or Gemm / MatMul with one
 * constant operand (the weight, possibly stored as integers behind a DequantizeLinear).
 */
export interface Layer {
  node: Node;
  kind: 'conv' | 'linear';
  /** Input index of the activation. */
  dataIndex: number;
  /** Input index of the weight. */
  weightIndex: number;
  /** The constant behind the weight input (float or integer data). */
  weight: Tensor;
  /** Depthwise conv: one input channel per group (memory-bound). */
  depthwise: boolean;
}

/** Depthwise: a grouped Conv with one input channel per group. */
export function isDepthwiseConv(n: Node, weightDims: readonly number[]): boolean {
  const g = Number(n.attr('group', 1));
  return n.opType === 'Conv' && g > 1 && weightDims[1] === 1 && weightDims[0] !== undefined && weightDims[0] % g === 0;
}

/** The node as a weighted layer, or null (a MatMul of two activations is not one). */
export function asLayer(n: Node, qdq: QdqGraph): Layer | null {
  if (!isOnnxOp(n)) return null;
  if (CONV_OPS.has(n.opType)) {
    const w = qdq.constSource(n.input(1));
    if (!w || !n.input(0)) return null;
    return { node: n, kind: 'conv', dataIndex: 0, weightIndex: 1, weight: w, depthwise: isDepthwiseConv(n, w.dims) };
  }
  if (n.opType === 'Gemm' || n.opType === 'MatMul') {
    const a = n.input(0), b = n.input(1);
    if (!a || !b) return null;
    const ca = qdq.constSource(a), cb = qdq.constSource(b);
    if (cb && !ca) return { node: n, kind: 'linear', dataIndex: 0, weightIndex: 1, weight: cb, depthwise: false };
    if (ca && !cb) return { node: n, kind: 'linear', dataIndex: 1, weightIndex: 0, weight: ca, depthwise: false };
  }
  return null;
}
