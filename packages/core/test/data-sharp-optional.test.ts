import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { importSharp } from '../src/calibrate/data/sharp.js';
import { isDataError } from '../src/index.js';
import { repoRoot } from './helpers/fixtures.js';

const run = promisify(execFile);

describe('sharp is optional and loaded on first use', () => {
  it('importing @qdeploy/core does not load sharp', async () => {
    const entry = path.join(repoRoot(), 'packages/core/dist/index.js');
    const script = `import { createRequire } from 'node:module';
      await import(${JSON.stringify(entry)});
      const cache = createRequire(import.meta.url).cache;
      console.log(Object.keys(cache).filter((k) => k.includes('/sharp/')).length);`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script]);
    expect(stdout.trim()).toBe('0');
  });

  it('a missing sharp is a DataError that says what to install', async () => {
    const missing = Object.assign(new Error("Cannot find package 'sharp'"), { code: 'ERR_MODULE_NOT_FOUND' });
    const err = await importSharp(() => Promise.reject(missing)).catch((e: unknown) => e);
    expect(isDataError(err)).toBe(true);
    expect((err as Error).message).toMatch(/reading images needs sharp.*not installed.*npm install sharp/);
  });

  it('core lists sharp as an optional dependency only', async () => {
    const pkg = (await import('../package.json', { with: { type: 'json' } })).default as unknown as Record<string, Record<string, string> | undefined>;
    expect(pkg.optionalDependencies?.sharp).toBeDefined();
    expect(pkg.dependencies?.sharp).toBeUndefined();
  });
});
