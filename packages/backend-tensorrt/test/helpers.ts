import * as path from 'node:path';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { modelToBytes, type Model } from '@qdeploy/core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../../..');
export const vendored = (name: string) => path.join(repoRoot, 'fixtures', name);
export const sharedDir = path.resolve(process.env.QDEPLOY_FIXTURES ?? path.join(repoRoot, '../shared/fixtures'));
export function shared(name: string): string {
  const f = path.join(sharedDir, name);
  if (!fs.existsSync(f)) throw new Error(`fixture ${f} not found: set QDEPLOY_FIXTURES to the folder holding the shared fixtures`);
  return f;
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

export async function runModel(model: Model | Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Record<string, Float32Array>> {
  const bytes = model instanceof Uint8Array ? model : modelToBytes(model);
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled' });
  const out = await session.run(feeds);
  await session.release();
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
}

/** max |a−b| / max |a| over the outputs. */
export function maxRelativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(a[i]!));
  }
  return diff / (scale || 1);
}
