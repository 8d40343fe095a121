import type { CheckRule } from '../rule.js';
import { unsupportedOpsRule } from './unsupported-ops.js';
import { opsetRule } from './opset.js';
import { qdqTypeRule } from './qdq-type.js';
import { zeroPointRule } from './zero-point.js';
import { scaleRule } from './scale.js';
import { perChannelActivationRule } from './per-channel-activation.js';
import { weightAxisRule } from './weight-axis.js';
import { int8GroupsRule } from './int8-groups.js';
import { fusionBreaksRule } from './fusion-breaks.js';
import { residualAddRule } from './residual-add.js';
import { depthwiseRule } from './depthwise.js';
import { poolingRule } from './pooling.js';
import { layerNormRule } from './layernorm.js';
import { softmaxRule } from './softmax.js';
import { attentionRule } from './attention.js';
import { sharedScaleRule } from './shared-scale.js';
import { stronglyTypedRule } from './strongly-typed.js';

export {
  unsupportedOpsRule, opsetRule, qdqTypeRule, zeroPointRule, scaleRule, perChannelActivationRule, weightAxisRule,
  int8GroupsRule, fusionBreaksRule, residualAddRule, depthwiseRule, poolingRule, layerNormRule, softmaxRule, attentionRule, sharedScaleRule, stronglyTypedRule,
};

/** Every rule, validity rules (errors TensorRT would refuse or mis-run) first, then performance rules. */
export const CHECK_RULES: readonly CheckRule[] = [
  unsupportedOpsRule,
  opsetRule,
  qdqTypeRule,
  zeroPointRule,
  scaleRule,
  perChannelActivationRule,
  weightAxisRule,
  int8GroupsRule,
  fusionBreaksRule,
  residualAddRule,
  depthwiseRule,
  poolingRule,
  layerNormRule,
  softmaxRule,
  attentionRule,
  sharedScaleRule,
  stronglyTypedRule,
];
