import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadModel, type BuildReport } from '@qdeploy/core';
import { formatCounts, summarizeFusions, type FusionSummary } from './fusions.js';

export interface ReferenceBuildOptions {
  /** Where to save onnxruntime's optimised graph (hardware-specific: use it on this machine only). */
  optimizedModelFilePath?: string;
  /** Alias of optimizedModelFilePath (the generic `output` of `qdeploy build`). */
  output?: string;
  /** Intra-op threads of the session (default: onnxruntime's). */
  threads?: number;
  /** Extra onnxruntime session options. */
  sessionOptions?: ort.InferenceSession.SessionOptions;
}

export interface ReferenceBuildReport extends BuildReport {
  /** What onnxruntime made of the QDQ groups. */
  fusions: FusionSummary;
  /** Seconds to create the session (graph optimisation included). */
  seconds: number;
}

function optionsOf(raw: Record<string, unknown>): ReferenceBuildOptions {
  const o = raw as ReferenceBuildOptions;
  for (const k of ['optimizedModelFilePath', 'output'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'string') throw new TypeError(`reference build: option "${k}" must be a file path`);
  }
  if (o.threads !== undefined && (!Number.isSafeInteger(o.threads) || o.threads < 1)) throw new TypeError('reference build: option "threads" must be a positive integer');
  return o;
}

/**
 * Builds the model for onnxruntime's CPU provider: an optimised session
 * (graphOptimizationLevel "all"), whose graph is read back to report which QDQ groups
 * became integer kernels (QLinearConv, QLinearAdd, QGemm, ...) and what still runs in float.
 */
export async function buildReference(onnxPath: string, rawOptions: Record<string, unknown> = {}): Promise<ReferenceBuildReport> {
  const options = optionsOf(rawOptions);
  const keep = options.optimizedModelFilePath ?? options.output;
  const tmpDir = keep ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'qdeploy-ort-'));
  const optimised = keep ? path.resolve(keep) : path.join(tmpDir!, 'optimised.onnx');
  if (path.resolve(onnxPath) === optimised) throw new Error(`reference build: the optimised model path is the input model ${onnxPath}`);
  try {
    const started = performance.now();
    const session = await ort.InferenceSession.create(onnxPath, {
      graphOptimizationLevel: 'all',
      optimizedModelFilePath: optimised,
      // Saving a level-"all" graph makes onnxruntime warn that it is hardware-specific; say it once below instead.
      logSeverityLevel: 3,
      ...(options.threads !== undefined ? { intraOpNumThreads: options.threads } : {}),
      ...options.sessionOptions,
    });
    const seconds = (performance.now() - started) / 1000;
    await session.release();
    const fusions = summarizeFusions(loadModel(optimised));
    const floatCount = Object.values(fusions.float).reduce((a, b) => a + b, 0);
    const summary = [
      `onnxruntime ${ort.env.versions.common} CPU, optimised session in ${seconds.toFixed(2)} s`,
      `integer kernels: ${formatCounts(fusions.integer)}`,
      `float compute ops: ${formatCounts(fusions.float)}`,
      `QuantizeLinear ×${fusions.quantizeLinear}, DequantizeLinear ×${fusions.dequantizeLinear} left in the graph`,
    ];
    if (Object.keys(fusions.integer).length === 0) summary.push('no QDQ group was fused: is this a QDQ model quantized with the reference backend (asymmetric uint8 activations)?');
    else if (floatCount > 0) summary.push('some compute runs in float: run `qdeploy inspect` / explainMatch on those ops to see why their group was not quantized');
    if (keep) summary.push(`optimised graph saved to ${optimised} (hardware-specific: use it on this machine only)`);
    return { summary, ...(keep ? { output: optimised } : {}), fusions, seconds };
  } finally {
    if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
  }
}
