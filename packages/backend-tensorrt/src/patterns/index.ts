import type { Pattern } from '@qdeploy/core';
import { FoldBatchNorm, RemoveDropout, RemoveIdentity } from './conversions.js';
import { ConvBN, ConvBNAdd, ConvBNAddReLU, ConvBNReLU, DepthwiseConv, GlobalAveragePool, Stem } from './conv.js';
import { Linear, LinearAct } from './linear.js';

export * from './conversions.js';
export * from './conv.js';
export * from './linear.js';
export * from './activations.js';

/**
 * TensorRT's pattern table: conversions first (run to a fixpoint), then fusions. Among
 * fusions of equal length, earlier entries win.
 */
export const TENSORRT_PATTERNS: readonly Pattern[] = [
  RemoveIdentity,
  RemoveDropout,
  FoldBatchNorm,
  Stem,
  ConvBNAddReLU,
  ConvBNAdd,
  ConvBNReLU,
  ConvBN,
  DepthwiseConv,
  LinearAct,
  Linear,
  GlobalAveragePool,
];
