import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repo root. */
export const repoRoot = path.resolve(here, '../../../..');
/** Models vendored into the repo (small files copied from ../shared/fixtures). */
export const vendored = (name: string) => path.join(repoRoot, 'fixtures', name);
/**
 * The large fixtures (torchvision exports, full Fashion-MNIST test split): ../shared/fixtures
 * for developers and CI, or wherever QDEPLOY_FIXTURES points. Tests that need them fail
 * loudly when they are missing rather than skipping.
 */
export const sharedFixtures = path.resolve(process.env.QDEPLOY_FIXTURES ?? path.join(repoRoot, '../shared/fixtures'));
export function shared(name: string): string {
  const file = path.join(sharedFixtures, name);
  if (!fs.existsSync(file)) throw new Error(`fixture ${file} not found: set QDEPLOY_FIXTURES to the folder holding the shared fixtures`);
  return file;
}

export function tmpDir(prefix = 'qdeploy-test-'): string {
  return fs.mkdtempSync(path.join(fs.realpathSync(process.env.TMPDIR ?? '/tmp'), prefix));
}
