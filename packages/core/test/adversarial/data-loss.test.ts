// Adversarial family "data loss and unsafe writes": no output path may change an input
// of the run (whatever way it names it), nor replace something that is not a regular
// file, nor a read-only file; "-o dir/" names a folder; a killed run's temporary file is
// cleaned by the next run.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CALIB_32, EVAL_X, EVAL_Y, MOBILENET_BN, errLines, makeTmp, requireBuilt, runCli, tempFilesIn } from '../fixtures/cli/helpers.js';

let tmp: string;
const quantize = (out: string, calib = CALIB_32, model = MOBILENET_BN) => ['quantize', model, '-o', out, '--calib', calib, '--limit', '8', '--no-progress'];

beforeAll(() => {
  requireBuilt();
  tmp = makeTmp('adv-loss');
});

function calibFolder(name: string): { dir: string; file: string } {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  const file = path.join(dir, 'part0.npy');
  fs.copyFileSync(CALIB_32, file);
  return { dir, file };
}

describe('outputs never overwrite an input', () => {
  it('refuses -o naming a .npy inside the calibration folder (exit 2, file untouched)', async () => {
    const { dir, file } = calibFolder('calib-in');
    const before = fs.readFileSync(file);
    const r = await runCli(quantize(file, dir));
    expect(r.code).toBe(2);
    expect(errLines(r)).toEqual([expect.stringMatching(/^qdeploy: refusing to write .*part0\.npy: it is inside the input folder/)]);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });

  it('refuses -o that is a hard link, outside the folder, to a calibration file', async () => {
    const { dir, file } = calibFolder('calib-link');
    const link = path.join(tmp, 'looks-new.onnx');
    fs.linkSync(file, link);
    const before = fs.readFileSync(file);
    const r = await runCli(quantize(link, dir));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing to write/);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });

  it('refuses a config run whose output is its evaluation labels, or the config file itself', async () => {
    const dir = path.join(tmp, 'run-cfg');
    fs.mkdirSync(dir);
    const labels = path.join(dir, 'labels.npy');
    fs.copyFileSync(EVAL_Y, labels);
    const config = path.join(dir, 'qdeploy.config.json');
    const write = (output: string) =>
      fs.writeFileSync(
        config,
        JSON.stringify({
          model: MOBILENET_BN,
          output,
          backend: 'tensorrt',
          calibration: { data: CALIB_32, limit: 8 },
          evaluate: { data: EVAL_X, labels: 'labels.npy', limit: 8 },
        }),
      );
    write('labels.npy');
    const before = fs.readFileSync(labels);
    const r = await runCli(['run', '-c', config, '--no-progress']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing to write .*labels\.npy/);
    expect(fs.readFileSync(labels).equals(before)).toBe(true);

    write('qdeploy.config.json');
    const cfgBefore = fs.readFileSync(config);
    const r2 = await runCli(['run', '-c', config, '--no-progress']);
    expect(r2.code).toBe(2);
    expect(fs.readFileSync(config).equals(cfgBefore)).toBe(true);
  });


  it('refuses -o naming a plugin file the run loads', async () => {
    const plugin = path.join(tmp, 'my-plugin.mjs');
    const source = 'export default { name: "mine", register() {} };\n';
    fs.writeFileSync(plugin, source);
    const r = await runCli([...quantize(plugin), '--plugin', plugin]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing to write .*my-plugin\.mjs/);
    expect(fs.readFileSync(plugin, 'utf8')).toBe(source);
  });
});

describe('output targets that must not be replaced', () => {
  it('refuses a FIFO at the output path and leaves it a FIFO (never replaced by a regular file)', async () => {
    const fifo = path.join(tmp, 'out.fifo');
    execFileSync('mkfifo', [fifo]);
    const r = await runCli(quantize(fifo), { timeoutMs: 30_000 });
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(2);
    expect(errLines(r)).toEqual([expect.stringMatching(/FIFO.*not a regular file/)]);
    expect(fs.lstatSync(fifo).isFIFO()).toBe(true);
  });

  it('refuses a read-only existing output (exit 2, content kept)', async () => {
    const out = path.join(tmp, 'readonly.onnx');
    fs.writeFileSync(out, 'keep me');
    fs.chmodSync(out, 0o444);
    const r = await runCli(quantize(out));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/read-only/);
    expect(fs.readFileSync(out, 'utf8')).toBe('keep me');
  });

  it('"-o newdir/" is a folder, not a file named newdir', async () => {
    const out = path.join(tmp, 'newdir') + '/';
    const r = await runCli(quantize(out));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ends with a path separator/);
    expect(fs.existsSync(path.join(tmp, 'newdir'))).toBe(false);
  });
});

describe('temporary files', () => {
  it("removes a killed run's stale temporary file of the same output, and only its own kind", async () => {
    const dir = path.join(tmp, 'stale');
    fs.mkdirSync(dir);
    const out = path.join(dir, 'model.int8.onnx');
    // A pid that is certainly gone: a process that has already exited.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    const stale = path.join(dir, `.model.int8.onnx.qdeploy-${dead}-0badc0de.tmp`);
    const other = path.join(dir, `.other.onnx.qdeploy-${dead}-0badc0de.tmp`);
    fs.writeFileSync(stale, 'half a model');
    fs.writeFileSync(other, 'not ours to judge');
    const r = await runCli(quantize(out));
    expect(r.code).toBe(0);
    expect(fs.existsSync(stale)).toBe(false);
    expect(fs.existsSync(other)).toBe(true);
    expect(tempFilesIn(dir)).toEqual([other]);
  });
});
