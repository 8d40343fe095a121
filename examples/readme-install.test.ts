// The README's install notes name settings that really exist where they are said to.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { expect, it } from 'vitest';

const here = path.dirname(new URL(import.meta.url).pathname);
const readme = fs.readFileSync(path.join(here, '../README.md'), 'utf8');

it('tells offline / CPU-only users the switch onnxruntime-node\'s install script reads', () => {
  const ortDir = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  const installer = fs.readFileSync(path.join(ortDir, 'script/install-utils.js'), 'utf8');
  expect(readme).toMatch(/`onnxruntime-node-install=skip`/);
  expect(readme).toMatch(/`ONNXRUNTIME_NODE_INSTALL=skip npm install/);
  expect(installer).toMatch(/process\.env\.ONNXRUNTIME_NODE_INSTALL\b/);
  expect(installer).toMatch(/npm_config_onnxruntime_node_install\b/);
  expect(installer).toMatch(/case 'skip':/);
});

it('runs the CLI as npx qdeploy, not through dist/', () => {
  expect(readme).toMatch(/`npx qdeploy`/);
  expect(readme).not.toMatch(/node packages\/core\/dist\/cli\/bin\.js/);
});
