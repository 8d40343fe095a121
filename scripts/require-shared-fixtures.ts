// globalSetup of `npm run test:exports`: no shared fixtures, no run (one line, not N failures).
import * as fs from 'node:fs';
import { sharedFixturesDir } from '@qdeploy/core/testing';

export default function requireSharedFixtures(): void {
  const dir = sharedFixturesDir();
  if (!fs.existsSync(dir)) {
    throw new Error(`npm run test:exports needs the shared fixtures: ${dir} not found (set QDEPLOY_FIXTURES to the folder holding them)`);
  }
}
