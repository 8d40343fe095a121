// `qdeploy build` and `qdeploy check` through the TensorRT backend plugin, with the stand-in
// trtexec of @qdeploy/backend-tensorrt's tests (no TensorRT here).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { RESNET_BN, errLines, requireBuilt, runCli } from './fixtures/cli/helpers.js';
import { repoRoot } from './helpers/fixtures.js';

const FAKE_TRTEXEC = path.join(repoRoot(), 'packages/backend-tensorrt/test/fixtures/fake-trtexec.mjs');
let dir: string;
let qdq: string;

beforeAll(async () => {
  requireBuilt();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qdeploy-cli-build-'));
  qdq = path.join(dir, 'resnet.int8.onnx');
  const r = await runCli(['quantize', RESNET_BN, '-o', qdq, '--no-calib']);
  expect(r.code).toBe(0);
});

describe('qdeploy build / check (tensorrt)', () => {
  it('builds an engine with trtexec from $TRTEXEC, builder options from --set', async () => {
    const engine = path.join(dir, 'resnet.engine');
    const r = await runCli(['build', qdq, '-o', engine, '--no-log', '--set', 'useSpinWait=true'], { env: { TRTEXEC: FAKE_TRTEXEC } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--onnx=.*resnet\.int8\.onnx --best --saveEngine=.*resnet\.engine --useSpinWait/);
    // A flag qdeploy manages, passed raw after --, is refused with the option to use instead (exit 2).
    const raw = await runCli(['build', qdq, '--no-log', '--', '--useSpinWait'], { env: { TRTEXEC: FAKE_TRTEXEC } });
    expect(raw.code).toBe(2);
    expect(errLines(raw)).toEqual([expect.stringMatching(/^qdeploy: extraArgs: --useSpinWait is managed .*use useSpinWait/)]);
    expect(r.stdout).toMatch(/throughput\s+[\d.]+ qps/);
  });

  it('--compare fp16 --reference builds both and prints them side by side; without --reference it says what is missing', async () => {
    const both = await runCli(['build', qdq, '--compare', 'fp16', '--reference', RESNET_BN, '--no-log'], { env: { TRTEXEC: FAKE_TRTEXEC } });
    expect(both.code).toBe(0);
    expect(both.stdout).toMatch(/Speed-up vs fp16/);
    const missing = await runCli(['build', qdq, '--compare', 'fp16'], { env: { TRTEXEC: FAKE_TRTEXEC } });
    expect(missing.code).toBe(2);
    expect(errLines(missing)).toEqual([expect.stringMatching(/^qdeploy: .*needs the FP32 model.*--reference/)]);
  });

  it('a missing trtexec is one clear line', async () => {
    const r = await runCli(['build', qdq, '--no-log'], { env: { TRTEXEC: path.join(dir, 'no-trtexec'), PATH: '/nonexistent' } });
    expect(r.code).toBe(2);
    expect(errLines(r)).toHaveLength(1);
    expect(errLines(r)[0]).toMatch(/trtexec/);
  });

  it('check: qdeploy\'s own export has no errors (exit 0)', async () => {
    const r = await runCli(['check', qdq, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).counts.error).toBe(0);
  });
});
