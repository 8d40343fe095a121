// Adversarial family "hangs and blow-ups": a FIFO or device given as input is refused
// before open(); user code whose promise never settles times out with one line; the
// builder runs in its own process group, which timeouts and signals end as a whole; the
// builder's output is read in linear time and bounded memory.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runTrtexec } from '../../../backend-tensorrt/src/trtexec/run.js';
import { CALIB_32, EVAL_Y, MOBILENET_BN, errLines, makeTmp, requireBuilt, runCli, writePluginPackage } from '../fixtures/cli/helpers.js';
import { alive, fakeTrtexec, waitFor } from './fake-builder.js';

let tmp: string;
let fifo: string;
beforeAll(() => {
  requireBuilt();
  tmp = makeTmp('adv-hang');
  fifo = path.join(tmp, 'pipe.npy');
  execFileSync('mkfifo', [fifo]);
});

const out = () => path.join(tmp, `out-${Math.random().toString(16).slice(2)}.onnx`);
const NEVER = 'new Promise(() => {})';

describe('non-regular inputs are refused before open()', () => {
  it.each([
    ['--calib', () => ['quantize', MOBILENET_BN, '-o', out(), '--calib', fifo]],
    ['--calib <image>', () => {
      const png = path.join(tmp, 'img.png');
      if (!fs.existsSync(png)) execFileSync('mkfifo', [png]);
      return ['quantize', MOBILENET_BN, '-o', out(), '--calib', png];
    }],
    ['eval --data', () => ['eval', MOBILENET_BN, '--data', fifo, '--labels', EVAL_Y]],
    ['eval --labels', () => ['eval', MOBILENET_BN, '--data', CALIB_32, '--labels', fifo]],
    ['the model', () => ['inspect', fifo]],
  ])('a FIFO as %s: exit 2 at once, naming it', async (_what, args) => {
    const r = await runCli(args(), { timeoutMs: 20_000 });
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(2);
    expect(errLines(r)).toEqual([expect.stringMatching(/(pipe\.npy|img\.png): is a FIFO \(named pipe\)/)]);
  });
});

describe('user code that never settles times out (QDEPLOY_LOAD_TIMEOUT)', () => {
  const env = { QDEPLOY_LOAD_TIMEOUT: '1' };
  it('a JS config whose default export never resolves: one line naming the file, exit 2', async () => {
    const cfg = path.join(tmp, 'never.config.mjs');
    fs.writeFileSync(cfg, `export default () => ${NEVER};\n`);
    const r = await runCli(['run', '-c', cfg], { env, timeoutMs: 30_000 });
    expect(r.code).toBe(2);
    expect(errLines(r)).toEqual([expect.stringMatching(/never\.config\.mjs: the exported config function did not finish within 1 s.*QDEPLOY_LOAD_TIMEOUT/)]);
  });

  it("a plugin whose register() never settles", async () => {
    const dir = path.join(tmp, 'plug');
    writePluginPackage(dir, 'stuck-plugin', `export default { name: 'stuck', register() { return ${NEVER}; } };\n`);
    const r = await runCli(['quantize', MOBILENET_BN, '-o', out(), '--no-calib', '--plugin', 'stuck-plugin'], { cwd: dir, env, timeoutMs: 30_000 });
    expect(r.code).toBe(2);
    expect(errLines(r)).toEqual([expect.stringMatching(/plugin "stuck-plugin" \(.*index\.mjs\): register\(\) did not finish within 1 s/)]);
  });

  it('a data module whose batches never come', async () => {
    const mod = path.join(tmp, 'stuck-data.mjs');
    fs.writeFileSync(mod, `export default async function* () { await ${NEVER}; }\n`);
    const r = await runCli(['quantize', MOBILENET_BN, '-o', out(), '--calib', mod, '--no-progress'], { env, timeoutMs: 30_000 });
    expect(r.code).toBe(2);
    expect(errLines(r)).toEqual([expect.stringMatching(/stuck-data\.mjs: batch 0 did not finish within 1 s/)]);
  });
});

describe('the builder runs in its own process group', () => {
  // A wrapper script whose child outlives it and holds stdout: the shape that escaped before.
  const wrapper = (pidFile: string) => `sleep 300 &\necho $! > "${pidFile}"\nwait`;

  it('a timeout ends the whole group (the wrapper and its child), exit 1', async () => {
    const pidFile = path.join(tmp, 'timeout.pid');
    const trtexec = fakeTrtexec(tmp, 'wrapped-trtexec', wrapper(pidFile));
    const r = await runCli(['build', MOBILENET_BN, '--no-log', '--set', 'timeoutMs=1500'], { env: { TRTEXEC: trtexec }, timeoutMs: 30_000 });
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(1);
    expect(errLines(r)).toEqual([expect.stringMatching(/did not finish within 1500 ms and was killed\./)]);
    const child = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(await waitFor(() => !alive(child), 5_000)).toBe(true);
  });

  it('a wrapper that exits while its child still holds stdout does not keep build waiting; the child is ended', async () => {
    const pidFile = path.join(tmp, 'orphan.pid');
    const trtexec = fakeTrtexec(tmp, 'leaky-trtexec', `sleep 300 &\necho $! > "${pidFile}"\nexit 0`);
    const r = await runCli(['build', MOBILENET_BN, '--no-log'], { env: { TRTEXEC: trtexec }, timeoutMs: 30_000 });
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(1);
    expect(errLines(r)).toEqual([expect.stringMatching(/no performance summary/)]);
    const child = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(await waitFor(() => !alive(child), 5_000)).toBe(true);
  });

  it('SIGTERM to qdeploy ends the whole group too', async () => {
    const pidFile = path.join(tmp, 'signal.pid');
    const trtexec = fakeTrtexec(tmp, 'wrapped-trtexec-2', wrapper(pidFile));
    const r = await runCli(['build', MOBILENET_BN, '--no-log'], {
      env: { TRTEXEC: trtexec },
      timeoutMs: 30_000,
      onSpawn: (child) => {
        void waitFor(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim() !== '', 20_000).then(() => child.kill('SIGTERM'));
      },
    });
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(143);
    const child = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(await waitFor(() => !alive(child), 5_000)).toBe(true);
  });

  it('reads 30 MB without a newline in bounded memory: the line is cut, the log stays small', async () => {
    const trtexec = fakeTrtexec(
      tmp,
      'flood-trtexec',
      `head -c 31457280 /dev/zero | tr '\\\\0' x\necho\necho "[I] Throughput: 100 qps"\necho "&&&& PASSED TensorRT.trtexec [TensorRT v100900] # trtexec"`,
    );
    const r = await runTrtexec(MOBILENET_BN, { trtexecPath: trtexec, timeoutMs: 60_000 });
    expect(r.summary.throughputQps).toBe(100);
    expect(r.summary.passed).toBe(true);
    expect(r.log.length).toBeLessThan(1 << 20);
    expect(r.log).toMatch(/more characters cut/);
  });
});
