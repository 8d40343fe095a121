import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { modelToBytes, registerCalibrator, registeredCalibrators, type Model } from '@qdeploy/core';
import calibrators from '@qdeploy/calibrators';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../../..');
/** Models vendored at the repo root. */
export const vendored = (name: string) => path.join(repoRoot, 'fixtures', name);
/** This package's data slices: 256 test images + labels, 64 calibration images (Fashion-MNIST). */
export const data = (name: string) => path.join(here, 'fixtures', name);
export const sharedDir = path.resolve(process.env.QDEPLOY_FIXTURES ?? path.join(repoRoot, '../shared/fixtures'));
export function shared(name: string): string {
  const f = path.join(sharedDir, name);
  if (!fs.existsSync(f)) throw new Error(`fixture ${f} not found: set QDEPLOY_FIXTURES to the folder holding the shared fixtures`);
  return f;
}

export function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'qdeploy-ref-test-'));
}

/** The calibrators plugin, registered once into core's container. */
export function useCalibrators(): void {
  if (registeredCalibrators().includes('minmax')) return;
  void calibrators.register({ container: undefined as never, registerCalibrator, registerBackend: () => {} });
}

/** Deterministic pseudo-random floats in [-1, 1). */
export function randomInput(dims: number[], seed = 1): Float32Array {
  const n = dims.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

export async function runModel(model: Model | Uint8Array | string, feeds: Record<string, ort.Tensor>, opt: ort.InferenceSession.SessionOptions['graphOptimizationLevel'] = 'disabled'): Promise<Record<string, Float32Array>> {
  const src = typeof model === 'string' || model instanceof Uint8Array ? model : modelToBytes(model);
  const session = typeof src === 'string' ? await ort.InferenceSession.create(src, { graphOptimizationLevel: opt }) : await ort.InferenceSession.create(src, { graphOptimizationLevel: opt });
  const out = await session.run(feeds);
  await session.release();
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
}

/** max |a−b| / max |a|. */
export function maxRelativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(a[i]!));
  }
  return diff / (scale || 1);
}
