#!/usr/bin/env node
// The committed `qdeploy` bin. npm links a bin only when its file exists at install
// time, and dist/ does not exist yet in a fresh clone: so `npx qdeploy` would ask the
// registry for an unrelated package named "qdeploy". This shim always exists and hands
// over to the built CLI.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/cli/bin.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(`qdeploy: ${fileURLToPath(cli)} is missing: build the packages first (npm run build in the repository)\n`);
  process.exit(2);
}
await import(cli.href);
