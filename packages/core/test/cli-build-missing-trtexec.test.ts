// A missing trtexec says, in the one line printed without --verbose, how to point
// qdeploy at it.
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { RESNET_BN, requireBuilt, runCli } from './fixtures/cli/helpers.js';

beforeAll(() => requireBuilt());

it('qdeploy build without trtexec names TRTEXEC= and trtexecPath on its first line', async () => {
  const r = await runCli(['build', RESNET_BN, '--backend', 'tensorrt', '--no-log'], { env: { PATH: path.dirname(process.execPath), TRTEXEC: '' } });
  expect(r.code).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^qdeploy: trtexec .*was not found: set TRTEXEC=\/path\/to\/trtexec, or the trtexecPath option/);
});
