// Writes packages/core/schema/qdeploy.config.schema.json from the zod schema (run after a
// build: it imports the built core). A test fails when the committed file is stale.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { configJsonSchemaText } = await import(path.join(root, 'packages/core/dist/config/json-schema.js'));
const out = path.join(root, 'packages/core/schema/qdeploy.config.schema.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, configJsonSchemaText());
console.log(`wrote ${path.relative(root, out)}`);
