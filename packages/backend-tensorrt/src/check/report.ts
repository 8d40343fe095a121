import type { CheckFinding } from '@qdeploy/core';
import type { Severity } from './rule.js';

/** Counts over the model and the findings. */
export interface CheckSummary {
  /** The model's ai.onnx opset (null when it imports none). */
  opset: number | null;
  nodes: number;
  quantizeNodes: number;
  dequantizeNodes: number;
  /** Activation quantizers: Q→DQ pairs (a Q read by several DQs counts once per DQ). */
  qdqPairs: number;
  /** Quantized weights: DQs with a constant behind them (int8 initializer → DQ, or float → Q → DQ). */
  weightDq: number;
  /** Weighted layers TensorRT runs as INT8 kernels (quantized input and weight), each with what it fuses. */
  int8Groups: number;
  /** Weighted layers left in FP16/FP32 (no Q/DQ on input nor weight). */
  floatLayers: number;
  errors: number;
  warnings: number;
  infos: number;
  /** Findings per code. */
  byCode: Record<string, number>;
}

/** What `checkPlacement` returns: per-node findings (core's CheckFinding) and a summary. */
export interface CheckReport {
  backend: 'tensorrt';
  findings: CheckFinding[];
  summary: CheckSummary;
}

export interface FormatCheckOptions {
  /** JSON (the report, findings filtered by minSeverity) instead of a text table. */
  json?: boolean;
  /** Leave out findings below this severity (default: show everything). */
  minSeverity?: Severity;
  /** Widest the node column gets in the text table (default 48). */
  nodeWidth?: number;
}

export const SEVERITY_RANK: Record<Severity, number> = { error: 2, warning: 1, info: 0 };

export function atLeast(min: Severity | undefined): (f: CheckFinding) => boolean {
  const floor = SEVERITY_RANK[min ?? 'info'];
  return (f) => SEVERITY_RANK[f.severity] >= floor;
}

/** Counts findings by severity and code. */
export function countFindings(findings: readonly CheckFinding[]): Pick<CheckSummary, 'errors' | 'warnings' | 'infos' | 'byCode'> {
  const byCode: Record<string, number> = {};
  let errors = 0, warnings = 0, infos = 0;
  for (const f of findings) {
    byCode[f.code] = (byCode[f.code] ?? 0) + 1;
    if (f.severity === 'error') errors++;
    else if (f.severity === 'warning') warnings++;
    else infos++;
  }
  const sorted = Object.fromEntries(Object.entries(byCode).sort(([a], [b]) => a.localeCompare(b)));
  return { errors, warnings, infos, byCode: sorted };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function clip(s: string, width: number): string {
  return s.length <= width ? s : `…${s.slice(s.length - width + 1)}`;
}

/** The report as a text table (severity, code, node, message) under a summary line, or as JSON. */
export function formatCheckReport(report: CheckReport, options: FormatCheckOptions = {}): string {
  const shown = report.findings.filter(atLeast(options.minSeverity));
  if (options.json) return JSON.stringify({ ...report, findings: shown }, null, 2);
  const s = report.summary;
  const lines = [
    `TensorRT QDQ placement check: ${plural(s.int8Groups, 'INT8 group')}, ${plural(s.floatLayers, 'float layer')}, ${plural(s.qdqPairs, 'activation Q/DQ pair')}, ${plural(s.weightDq, 'quantized weight')}${s.opset !== null ? `, opset ${s.opset}` : ''}`,
    `${plural(s.errors, 'error')}, ${plural(s.warnings, 'warning')}, ${s.infos} info`,
  ];
  if (shown.length === 0) return lines.join('\n');
  const nodeWidth = options.nodeWidth ?? 48;
  const rows = shown.map((f) => [f.severity, f.code, clip(f.node ?? '(model)', nodeWidth), f.message]);
  const head = ['SEVERITY', 'CODE', 'NODE', 'MESSAGE'];
  const widths = [0, 1, 2].map((c) => Math.max(head[c]!.length, ...rows.map((r) => r[c]!.length)));
  const fmt = (r: string[]) => r.map((cell, c) => (c < 3 ? cell.padEnd(widths[c]!) : cell)).join('  ').trimEnd();
  lines.push('', fmt(head), ...rows.map(fmt));
  return lines.join('\n');
}
