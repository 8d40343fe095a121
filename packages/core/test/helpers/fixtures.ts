import * as fs from 'node:fs';
import * as path from 'node:path';
export { repoRoot, repoFixture as vendored, sharedFixture as shared } from '../../src/testing/index.js';

export function tmpDir(prefix = 'qdeploy-test-'): string {
  return fs.mkdtempSync(path.join(fs.realpathSync(process.env.TMPDIR ?? '/tmp'), prefix));
}
