import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { registeredCalibrators, usePlugin } from '@qdeploy/core';
import calibrators from '@qdeploy/calibrators';

const here = path.dirname(fileURLToPath(import.meta.url));
export { maxRelativeError, randomInput, repoRoot, runModel, repoFixture as vendored, sharedFixture as shared } from '@qdeploy/core/testing';
/** This package's data slices: 256 test images + labels, 64 calibration images (Fashion-MNIST). */
export const data = (name: string) => path.join(here, 'fixtures', name);

export function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'qdeploy-ref-test-'));
}

/** The calibrators plugin, registered once into core's container. */
export async function useCalibrators(): Promise<void> {
  if (!registeredCalibrators().includes('minmax')) await usePlugin(calibrators);
}
