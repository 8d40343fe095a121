import type { BuildReport } from '@qdeploy/core';
import type { BuildOptions, PrecisionSpec } from './trtexec/options.js';
import { buildEngine, runTrtexec, type TrtexecRunResult } from './trtexec/run.js';
import { compareEngines, formatComparison } from './trtexec/compare.js';
import { TrtexecUsageError } from './trtexec/errors.js';

/**
 * The TensorRT backend's `build`: runs trtexec on the exported QDQ model. Options are
 * trtexec's (see BuildOptions) plus `output` (the engine file), `extraArgs`, and
 * `compare: "fp16"` with `reference: <FP32 model>` to build both and print them side
 * by side — the answer to "is my INT8 engine faster than FP16?".
 */
export async function buildTensorrt(onnxPath: string, options: Record<string, unknown> = {}): Promise<BuildReport> {
  const { output, compare, reference, ...rest } = options as { output?: string; compare?: PrecisionSpec; reference?: string } & BuildOptions;
  // A build that hangs (a stuck driver, a wrapper waiting on input) must end: an hour unless told otherwise.
  const base: BuildOptions = { timeoutMs: defaultBuildTimeoutMs(), ...rest, ...(output ? { saveEngine: output } : {}) };
  if (compare !== undefined) {
    if (!reference) {
      throw new TrtexecUsageError(
        `compare: "${String(compare)}" needs the FP32 model to build the baseline from (a QDQ model runs its Q/DQ layers in INT8 whatever the precision flags); pass reference: <model.onnx> (CLI: --reference)`,
      );
    }
    const comparison = await compareEngines(onnxPath, base, [base.precision ?? 'best', { precision: compare, onnxPath: reference }]);
    return { summary: formatComparison(comparison).split('\n'), output: base.saveEngine, comparison };
  }
  const result = base.saveEngine ? await buildEngine(onnxPath, base) : await runTrtexec(onnxPath, base);
  return { summary: summarize(result), output: result.enginePath, result: { ...result, log: undefined } };
}

/** Default build timeout: QDEPLOY_BUILD_TIMEOUT (seconds) when set, else one hour. */
export function defaultBuildTimeoutMs(env: Record<string, string | undefined> = process.env): number {
  const s = Number(env.QDEPLOY_BUILD_TIMEOUT);
  return (Number.isFinite(s) && s > 0 ? s : 3600) * 1000;
}

function summarize(r: TrtexecRunResult): string[] {
  const s = r.summary;
  const ms = (x?: number) => (x === undefined ? 'n/a' : `${x.toFixed(3)} ms`);
  const lines = [`command      ${r.command}`];
  if (s.tensorrtVersion) lines.push(`TensorRT     ${s.tensorrtVersion}${s.device ? ` on ${s.device}` : ''}`);
  if (s.engineBuildTimeS !== undefined) lines.push(`build time   ${s.engineBuildTimeS.toFixed(1)} s`);
  if (s.throughputQps !== undefined) lines.push(`throughput   ${s.throughputQps.toFixed(1)} qps`);
  if (s.latency) lines.push(`latency      median ${ms(s.latency.median)}, mean ${ms(s.latency.mean)}, p99 ${ms(s.latency.percentiles?.[99])}`);
  if (s.gpuComputeTime) lines.push(`GPU compute  median ${ms(s.gpuComputeTime.median)}, mean ${ms(s.gpuComputeTime.mean)}`);
  if (r.layerInfo) {
    const l = r.layerInfo.summary;
    const share = l.int8Share === null ? 'unknown' : `${(100 * l.int8Share).toFixed(0)} %`;
    lines.push(`layers       ${l.totalLayers} (INT8 share ${share}, ${l.reformatLayers} reformat layers)`);
  }
  for (const w of s.warnings) lines.push(`warning      ${w}`);
  if (r.enginePath) lines.push(`engine       ${r.enginePath}`);
  return lines;
}
