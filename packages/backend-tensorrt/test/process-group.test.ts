// runInGroup on execa: spawn failures come back as spawnError (run.ts maps them to
// TrtexecNotFoundError), output streams to the callbacks, and the environment given is used
// as is. The group kills themselves are covered end to end in core's adversarial/hangs.test.ts.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runInGroup, type GroupRunOptions } from '../src/trtexec/process-group.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'qdeploy-group-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

function collect(extra: Partial<GroupRunOptions> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const options: GroupRunOptions = { forceKillAfterMs: 1_000, onStdout: (c) => out.push(c), onStderr: (c) => err.push(c), ...extra };
  return { options, out: () => out.join(''), err: () => err.join('') };
}

describe('runInGroup', () => {
  it('a missing file: spawnError ENOENT, no exit code', async () => {
    const r = await runInGroup(path.join(dir, 'missing'), [], collect().options);
    expect(r.spawnError?.code).toBe('ENOENT');
    expect(r.exitCode).toBeUndefined();
    expect(r.timedOut || r.cancelled).toBe(false);
  });

  it('a file that is not executable: spawnError EACCES', async () => {
    const file = path.join(dir, 'not-exec.sh');
    await writeFile(file, '#!/bin/sh\necho hi\n');
    await chmod(file, 0o644);
    const r = await runInGroup(file, [], collect().options);
    expect(r.spawnError?.code).toBe('EACCES');
  });

  it('streams stdout and stderr, reports the exit code, and sees only the env it is given', async () => {
    const file = path.join(dir, 'talk.sh');
    await writeFile(file, '#!/bin/sh\necho "out $1 ${ONLY_HERE:-unset} ${QDEPLOY_GROUP_PARENT:-unset}"\necho "err" >&2\nexit 3\n');
    await chmod(file, 0o755);
    process.env.QDEPLOY_GROUP_PARENT = 'leaked';
    try {
      const c = collect({ env: { PATH: process.env.PATH ?? '', ONLY_HERE: 'yes' } });
      const r = await runInGroup(file, ['arg'], c.options);
      expect(r).toMatchObject({ exitCode: 3, signal: undefined, timedOut: false, cancelled: false });
      expect(r.spawnError).toBeUndefined();
      expect(c.out()).toBe('out arg yes unset\n');
      expect(c.err()).toBe('err\n');
    } finally {
      delete process.env.QDEPLOY_GROUP_PARENT;
    }
  });
});
