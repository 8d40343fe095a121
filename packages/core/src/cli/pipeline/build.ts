/** `qdeploy build`: the backend's builder on a QDQ model, and its report. */
import fs from 'node:fs';
import { displayPath } from '../../config/load.js';
import type { Backend, BuildReport } from '../../plugins/backend.js';
import { UsageError } from '../errors.js';

/** Runs the backend's builder; exit 2 when the backend has none. */
export async function buildWithBackend(backend: Backend, onnxPath: string, options: Record<string, unknown>): Promise<BuildReport> {
  if (typeof backend.build !== 'function') throw new UsageError(`backend ${backend.name} has no builder`);
  if (!fs.existsSync(onnxPath)) throw new UsageError(`${displayPath(onnxPath)}: no such file`);
  return backend.build(onnxPath, options);
}

/** The build report as printed: the backend's summary lines, then the artifact. */
export function formatBuildReport(r: BuildReport): string {
  return [...r.summary, ...(r.output ? [`artifact    ${displayPath(r.output)}`] : [])].join('\n');
}
