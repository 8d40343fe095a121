// Helpers for checking a transform on real models: deterministic inputs, an onnxruntime
// run, and the error measure the equivalence tests use. Exported as @qdeploy/core/testing.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Model } from '../ir/model.js';
import { modelToBytes } from '../onnx/save.js';

/** Deterministic values in [-1, 1) (a fixed LCG), so runs are comparable. */
export function randomFloats(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** Deterministic input data for a shape. */
export function randomInput(dims: readonly number[], seed = 1): Float32Array {
  return randomFloats(dims.reduce((a, b) => a * b, 1), seed);
}

/** Runs a model (IR, bytes or path) once with onnxruntime and returns its outputs. */
export async function runModel(
  model: Model | Uint8Array | string,
  feeds: Record<string, ort.Tensor>,
  graphOptimizationLevel: ort.InferenceSession.SessionOptions['graphOptimizationLevel'] = 'disabled',
): Promise<Record<string, Float32Array>> {
  const src = typeof model === 'string' || model instanceof Uint8Array ? model : modelToBytes(model);
  const session = typeof src === 'string'
    ? await ort.InferenceSession.create(src, { graphOptimizationLevel })
    : await ort.InferenceSession.create(src, { graphOptimizationLevel });
  try {
    const out = await session.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await session.release();
  }
}

/** max |a − b| / max |a|: the relative error the FP32-equivalence checks bound. */
export function maxRelativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(a[i]!));
  }
  return diff / (scale || 1);
}

/**
 * A whole network checked against a backend's patterns: its match and conversion counts,
 * quantizer counts, and the input size for the FP32-equivalence run.
 */
export interface NetworkCase {
  model: () => Model;
  size: number;
  channels: number;
  matches: Record<string, number>;
  conversions: Record<string, number>;
  stubs: number;
  weights: number;
}

/** The repository root (the folder holding turbo.json) above `from`. */
export function repoRoot(from = process.cwd()): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'turbo.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no repository root (turbo.json) above ${from}`);
  }
}

/** The shared fixtures folder: $QDEPLOY_FIXTURES, else ../shared/fixtures beside the repository. */
export function sharedFixturesDir(): string {
  return path.resolve(process.env.QDEPLOY_FIXTURES ?? path.join(repoRoot(), '../shared/fixtures'));
}

/**
 * A large shared fixture (torchvision exports, the full Fashion-MNIST split) from
 * sharedFixturesDir(). Missing → an error saying so, never a silently skipped test.
 * `npm test` sets QDEPLOY_SHARED_FIXTURES=off: only *.exports.test.ts files may ask.
 */
export function sharedFixture(name: string): string {
  if (process.env.QDEPLOY_SHARED_FIXTURES === 'off') {
    throw new Error(`sharedFixture("${name}"): npm test reads nothing outside the repository; move this test to a *.exports.test.ts file (npm run test:exports)`);
  }
  const file = path.join(sharedFixturesDir(), name);
  if (!fs.existsSync(file)) throw new Error(`fixture ${file} not found: set QDEPLOY_FIXTURES to the folder holding the shared fixtures`);
  return file;
}

/** A small model vendored in the repository's fixtures/ folder. */
export function repoFixture(name: string): string {
  return path.join(repoRoot(), 'fixtures', name);
}

export { TorchExport, torchScope, type ConvSpec, type ParamRoute } from './torch-export.js';
export { buildEfficientNetB0Like, buildMobileNetV2Like, buildResNet18Like, type TorchvisionOptions } from './torchvision.js';
export { writeWideMlp, type WideMlpOptions } from './wide-mlp.js';
