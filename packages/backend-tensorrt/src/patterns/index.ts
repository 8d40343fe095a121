import type { Pattern } from '@qdeploy/core';
import { FoldBatchNorm, RemoveDropout, RemoveIdentity } from '@qdeploy/core';
import { ConvBN, ConvBNAdd, ConvBNAddReLU, ConvBNReLU, DepthwiseConv, GlobalAveragePool, Stem } from './conv.js';
import { linearPatterns, type LinearRuleOptions } from './linear.js';
import { AttentionQK, AttentionSV, MultiHeadAttention } from './attention.js';
import { LayerNorm } from './layernorm.js';
import { ActivationAdd, Concat, MaxPool, NearestResize, OutputConv, SplitSlice } from './detection.js';

export * from './conv.js';
export * from './linear.js';
export * from './activations.js';
export * from './attention.js';
export * from './layernorm.js';
export * from './detection.js';

export interface TensorrtPatternOptions extends LinearRuleOptions {}

/**
 * TensorRT's pattern table: conversions first (run to a fixpoint), then fusions. Among
 * fusions of equal length, earlier entries win. `options` tunes the Linear size rule
 * (see `LinearRuleOptions`; `{ minLinearSize: 0 }` quantizes every Linear layer).
 */
export function tensorrtPatterns(options: TensorrtPatternOptions = {}): readonly Pattern[] {
  const { Linear, LinearAct, SmallLinear } = linearPatterns(options);
  return [
    RemoveIdentity,
    RemoveDropout,
    FoldBatchNorm,
    Stem,
    ConvBNAddReLU,
    ConvBNAdd,
    OutputConv,
    ConvBNReLU,
    ConvBN,
    DepthwiseConv,
    MultiHeadAttention,
    AttentionQK,
    AttentionSV,
    LayerNorm,
    LinearAct,
    Linear,
    SmallLinear,
    GlobalAveragePool,
    ActivationAdd,
    Concat,
    SplitSlice,
    MaxPool,
    NearestResize,
  ];
}

/** The table with the default options (size rule K·N/(K+N) ≥ 256 on token-wise Linear layers). */
export const TENSORRT_PATTERNS: readonly Pattern[] = tensorrtPatterns();
