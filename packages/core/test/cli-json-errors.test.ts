// `--json` failures: a script reading stdout gets a JSON error object there, not only
// text on stderr.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALIB_32, RESNET_BN, makeTmp, requireBuilt, runCli } from './fixtures/cli/helpers.js';

let tmp: string;
beforeAll(() => {
  requireBuilt();
  tmp = makeTmp('json-errors');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('--json failures print a JSON error on stdout', () => {
  it('bad input (missing data file): exit 2, { error: { message, kind, exitCode } } on stdout, the line on stderr', async () => {
    const r = await runCli(['quantize', RESNET_BN, '-o', path.join(tmp, 'a.onnx'), '--calib', path.join(tmp, 'nope.npy'), '--json']);
    expect(r.code).toBe(2);
    const j = JSON.parse(r.stdout) as { error: { message: string; kind: string; name: string; exitCode: number } };
    expect(j.error.exitCode).toBe(2);
    expect(j.error.name).toBe('DataError');
    expect(j.error.kind).toBe('not-found');
    expect(j.error.message).toMatch(/nope\.npy/);
    expect(r.stderr).toMatch(/^qdeploy: .*nope\.npy/);
  });

  it('a usage error commander catches (unknown option) is JSON too', async () => {
    const r = await runCli(['quantize', RESNET_BN, '--calib', CALIB_32, '--json', '--bogus']);
    expect(r.code).toBe(2);
    const j = JSON.parse(r.stdout) as { error: { message: string; code: string } };
    expect(j.error.code).toBe('commander.unknownOption');
    expect(j.error.message).toMatch(/--bogus/);
  });

  it('without --json stdout stays empty on failure', async () => {
    const r = await runCli(['quantize', RESNET_BN, '-o', path.join(tmp, 'b.onnx'), '--calib', path.join(tmp, 'nope.npy')]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
  });
});
