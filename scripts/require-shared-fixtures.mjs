// Run by `npm run test:exports` before vitest: without the shared fixtures, one line and exit 1
// (vitest would report a failing globalSetup as "No test files found" first).
import * as fs from 'node:fs';
import { sharedFixturesDir } from '@qdeploy/core/testing';

const dir = sharedFixturesDir();
if (!fs.existsSync(dir)) {
  console.error(`npm run test:exports needs the shared fixtures: ${dir} not found (set QDEPLOY_FIXTURES to the folder holding them)`);
  process.exit(1);
}
