// QDQ placement checker for TensorRT: `checkPlacement(model)` → CheckReport, `formatCheckReport(report)`.
export { checkPlacement, type CheckOptions } from './check.js';
export { formatCheckReport, type CheckReport, type CheckSummary, type FormatCheckOptions } from './report.js';
export { CHECK_RULES } from './rules/index.js';
export type { CheckRule, Severity } from './rule.js';
export { CheckContext } from './context.js';
export { QdqGraph, type QdqPair, type QdqUnit } from './qdq-graph.js';
export type { QdqParams } from './qdq-params.js';
export type { Layer } from './layers.js';
export type { LayerPlacement } from './groups.js';
export type { FusionChain, ChainLink, LinkKind } from './chain.js';
export type { ResidualAdd, ConvBranch } from './residual.js';
export type { LayerNormSite } from './layernorm.js';
