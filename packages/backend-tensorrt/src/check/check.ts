import type { CheckFinding, Model } from '@qdeploy/core';
import { CheckContext } from './context.js';
import { CHECK_RULES } from './rules/index.js';
import { SEVERITY_RANK, atLeast, countFindings, type CheckReport } from './report.js';
import type { CheckRule, Severity } from './rule.js';

export interface CheckOptions {
  /** The rules to run (default: CHECK_RULES, all of them). */
  rules?: readonly CheckRule[];
  /** Drop findings below this severity (default: keep all, info included). */
  minSeverity?: Severity;
}

/**
 * Reads a QDQ model (qdeploy's, onnxruntime's quantize_static, ModelOpt / pytorch-quantization
 * exports...) and reports, per node, what TensorRT will do with it: the INT8 groups it
 * fuses, Q/DQ that break fusions, residual Adds left in FP16, quantized ops that only cost
 * reformats, and Q/DQ parameters TensorRT rejects (zero point, uint8, axis, opset, scale).
 * Findings come sorted by severity, then graph order. The model is not modified.
 */
export function checkPlacement(model: Model, options: CheckOptions = {}): CheckReport {
  const ctx = new CheckContext(model);
  const position = new Map<string, number>();
  ctx.graph.nodes.forEach((n) => {
    const l = ctx.label(n);
    if (!position.has(l)) position.set(l, ctx.position(n));
  });
  const findings: CheckFinding[] = [];
  for (const rule of options.rules ?? CHECK_RULES) findings.push(...rule.run(ctx));
  const kept = findings
    .filter(atLeast(options.minSeverity))
    .map((f, i) => ({ f, i }))
    .sort((a, b) =>
      SEVERITY_RANK[b.f.severity] - SEVERITY_RANK[a.f.severity]
      || (position.get(a.f.node ?? '') ?? -1) - (position.get(b.f.node ?? '') ?? -1)
      || a.i - b.i)
    .map(({ f }) => f);
  const placements = ctx.layers.map((l) => ctx.placement(l));
  return {
    backend: 'tensorrt',
    findings: kept,
    summary: {
      opset: ctx.opset,
      nodes: ctx.graph.nodes.length,
      quantizeNodes: ctx.qdq.quantizeNodes.length,
      dequantizeNodes: ctx.qdq.dequantizeNodes.length,
      qdqPairs: ctx.qdq.pairs.filter((p) => p.q && p.kind === 'activation').length,
      weightDq: ctx.qdq.weightPairs.length,
      int8Groups: placements.filter((p) => p.int8).length,
      floatLayers: placements.filter((p) => !p.dataPair && !p.weightPair).length,
      ...countFindings(kept),
    },
  };
}
