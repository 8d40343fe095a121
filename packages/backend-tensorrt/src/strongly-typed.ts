import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel, modelFloatType, saveModel, toStronglyTyped, type BuildReport } from '@qdeploy/core';
import type { BuildOptions, PrecisionSpec } from './trtexec/options.js';
import { compareEngines, formatComparison } from './trtexec/compare.js';
import { TrtexecUsageError } from './trtexec/errors.js';

/** The reduced float type of a strongly typed export at `onnxPath`, or null for an FP32 (weakly typed) model. */
export function stronglyTypedModel(onnxPath: string, cwd?: string): 'fp16' | 'bf16' | null {
  const file = path.resolve(cwd ?? process.cwd(), onnxPath);
  // A missing or unreadable file is trtexec's to report, in its own words.
  try {
    return modelFloatType(loadModel(file));
  } catch {
    return null;
  }
}

/**
 * `--compare fp16` for a strongly typed INT8 model: the FP16 baseline is the FP32 reference
 * written strongly typed in the same float type (same FP32 policy, no Q/DQ), and both build
 * with --stronglyTyped, so the comparison is INT8 vs FP16 under the same typing rules.
 */
export async function compareStronglyTyped(onnxPath: string, base: BuildOptions, compare: PrecisionSpec, reference: string, float: 'fp16' | 'bf16'): Promise<BuildReport> {
  if (compare !== 'fp16' && compare !== 'stronglyTyped') {
    throw new TrtexecUsageError(`compare: "${String(compare)}" for a strongly typed model: only "fp16" (the reference written in ${float.toUpperCase()}, built strongly typed) compares like with like`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qdeploy-reference-'));
  try {
    const refFile = path.join(dir, `${path.basename(reference, '.onnx')}.${float}.onnx`);
    const ref = loadModel(path.resolve(base.cwd ?? process.cwd(), reference));
    await saveModel(toStronglyTyped(ref, { float }).model, refFile);
    const comparison = await compareEngines(onnxPath, base, [
      { precision: 'stronglyTyped', label: 'int8' },
      { precision: 'stronglyTyped', label: float, onnxPath: refFile },
    ]);
    return { summary: formatComparison(comparison).split('\n'), output: base.saveEngine, comparison };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
