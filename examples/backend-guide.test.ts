// The backend author guide documents every field of core's Backend interface, and points
// at the example backend, which exists.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';

const here = path.dirname(new URL(import.meta.url).pathname);
const guide = fs.readFileSync(path.join(here, '../docs/writing-a-backend.md'), 'utf8');

it('docs/writing-a-backend.md names every Backend field and the example package', () => {
  const src = fs.readFileSync(path.join(here, '../packages/core/src/plugins/backend.ts'), 'utf8');
  const body = /export interface Backend \{([\s\S]*?)\n\}/.exec(src)![1]!;
  const fields = [...body.matchAll(/^ {2}(\w+)\??[(:]/gm)].map((m) => m[1]!);
  expect(fields).toContain('standardConversions');
  for (const f of fields) expect(guide, `the guide does not document Backend.${f}`).toMatch(new RegExp('`' + f + '[`(]'));
  expect(fs.existsSync(path.join(here, 'backend-example/index.js'))).toBe(true);
  expect(guide).toMatch(/examples\/backend-example/);
});
