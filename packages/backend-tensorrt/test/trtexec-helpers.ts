import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
export const FAKE_TRTEXEC = path.join(FIXTURES, 'fake-trtexec.mjs');
export const TRTEXEC_FIXTURES = path.join(FIXTURES, 'trtexec');

/** A recorded log without its "#" source header (exactly what the stand-in prints). */
export async function recordedLog(name: string): Promise<string> {
  const text = await readFile(path.join(TRTEXEC_FIXTURES, name), 'utf8');
  return text
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .join('\n');
}

export async function fixtureText(name: string): Promise<string> {
  return readFile(path.join(TRTEXEC_FIXTURES, name), 'utf8');
}

/** A temporary directory with a placeholder model.onnx (the stand-in only checks that it exists). */
export async function workDir(): Promise<{ dir: string; onnx: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'qdeploy-trtexec-test-'));
  const onnx = path.join(dir, 'model.onnx');
  await writeFile(onnx, 'placeholder, not an ONNX model\n');
  return { dir, onnx, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
