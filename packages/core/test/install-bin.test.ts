import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers/fixtures.js';
import { tmpDir } from './helpers/fixtures.js';

const run = promisify(execFile);
const core = path.join(repoRoot(), 'packages/core');
const pkg = JSON.parse(fs.readFileSync(path.join(core, 'package.json'), 'utf8')) as { bin: Record<string, string>; files: string[] };

describe('the qdeploy bin works right after npm ci (no build, no registry lookup)', () => {
  it('the bin is a committed file, not a build output, so npm links it at install time', async () => {
    const target = pkg.bin.qdeploy!;
    expect(target).not.toMatch(/dist\//);
    const { stdout } = await run('git', ['ls-files', '--error-unmatch', target], { cwd: core });
    expect(stdout.trim()).toBe(path.normalize(target));
    expect(pkg.files).toContain(target.replace(/^\.\//, '').split('/')[0]);
  });

  it('node_modules/.bin/qdeploy is linked to it and runs the CLI', async () => {
    const link = path.join(repoRoot(), 'node_modules/.bin/qdeploy');
    expect(fs.realpathSync(link)).toBe(fs.realpathSync(path.join(core, pkg.bin.qdeploy!)));
    const { stdout } = await run(link, ['--help']);
    expect(stdout).toMatch(/Usage: qdeploy/);
  });

  it('before a build it says to build instead of failing obscurely', async () => {
    const dir = tmpDir();
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.copyFileSync(path.join(core, pkg.bin.qdeploy!), path.join(dir, 'bin/qdeploy.js'));
    fs.writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }');
    const err = (await run(process.execPath, [path.join(dir, 'bin/qdeploy.js'), '--help']).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/dist[/\\]cli[/\\]bin\.js is missing: build the packages first \(npm run build/);
  });
});
