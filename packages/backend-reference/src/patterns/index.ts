import type { Pattern } from '@qdeploy/core';
import { FoldBatchNorm, RemoveDropout, RemoveIdentity } from '@qdeploy/core';
import { FloatActivation, QAdd, QAddAct, QConv, QConvAct, QDataMovement, QLinear, QLinearAct, QUnary } from './ops.js';

export * from './ops.js';

/**
 * The reference backend's pattern table: conversions (run to a fixpoint), then fusions
 * (longest first; among equals, table order).
 */
export const REFERENCE_PATTERNS: readonly Pattern[] = [
  RemoveIdentity,
  RemoveDropout,
  FoldBatchNorm,
  QConvAct,
  QConv,
  QAddAct,
  QAdd,
  QLinearAct,
  QLinear,
  QUnary,
  QDataMovement,
  FloatActivation,
];
