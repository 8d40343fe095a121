/** `qdeploy check`: the backend's placement checker on a (QDQ) model, and its report. */
import path from 'node:path';
import { displayPath } from '../../config/load.js';
import type { CheckFinding } from '../../plugins/backend.js';
import { UsageError } from '../errors.js';
import { plural, table } from '../format.js';
import { prepareBackend, type PipelineContext } from './context.js';
import { loadInputModel, validateModelFile } from './model-files.js';

export interface CheckReport {
  model: string;
  backend: string;
  findings: CheckFinding[];
  counts: { error: number; warning: number; info: number };
}

/** Runs the backend's placement checker on a (QDQ) model. */
export async function checkModel(modelPath: string, options: PipelineContext & { backend?: string } = {}): Promise<CheckReport> {
  const backend = await prepareBackend(options.backend ?? 'tensorrt', options);
  if (typeof backend.check !== 'function') throw new UsageError(`backend ${backend.name} has no checker`);
  const m = loadInputModel(modelPath);
  // A model onnxruntime refuses (a cycle, an unknown op, an impossible shape) has no placement to check: bad input.
  await validateModelFile(modelPath);
  const findings = backend.check(m);
  const counts = { error: 0, warning: 0, info: 0 };
  for (const f of findings) counts[f.severity] = (counts[f.severity] ?? 0) + 1;
  return { model: path.resolve(modelPath), backend: backend.name, findings, counts };
}

/** The check report as a table, errors first. */
export function formatCheckReport(r: CheckReport): string {
  const head = `${displayPath(r.model)}: ${plural(r.counts.error, 'error')}, ${plural(r.counts.warning, 'warning')}, ${r.counts.info} info (backend ${r.backend})`;
  if (!r.findings.length) return `${head}\n  no findings: the placement follows the backend's rules`;
  const order = { error: 0, warning: 1, info: 2 } as const;
  const sorted = [...r.findings].sort((a, b) => order[a.severity] - order[b.severity]);
  return `${head}\n${table(sorted.map((f) => [f.severity, f.code, f.node ?? '', f.message]), ['severity', 'code', 'node', 'message'])}`;
}
