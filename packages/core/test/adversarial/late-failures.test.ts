// Adversarial family "late failures": what the inputs show at the start must fail at the
// start (exit 2, before any calibration batch), with the right exit code; a write that
// fails part-way (disk full) is one line naming the file, exit 1, nothing left behind.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, CALIB_32, MOBILENET_BN, errLines, makeTmp, requireBuilt, runCli, tempFilesIn } from '../fixtures/cli/helpers.js';
import { setOpset, variant } from './models.js';

let tmp: string;
beforeAll(() => {
  requireBuilt();
  tmp = makeTmp('adv-late');
});

// Progress lines on stderr would show that calibration started.
const calibrationStarted = (stderr: string) => /calibrat\w*: (batch|\d)|batches? done/i.test(stderr);

describe('checked before the first batch', () => {
  it('an opset-12 model is refused before calibration (exit 2, says how to fix it)', async () => {
    const file = variant(path.join(tmp, 'opset12.onnx'), (m) => {
      setOpset(m, 12);
      // BatchNormalization's training_mode attribute is opset 14's: drop it so the model is valid at 12.
      for (const n of m.graph!.node!) n.attribute = (n.attribute ?? []).filter((a) => a.name !== 'training_mode');
    });
    const r = await runCli(['quantize', file, '-o', path.join(tmp, 'o12.onnx'), '--calib', CALIB_32, '--limit', '8'], { env: { QDEPLOY_NO_PROGRESS: '' } });
    expect(r.code).toBe(2);
    expect(errLines(r)).toEqual([expect.stringMatching(/opset 12; a QDQ model needs opset 13.*convert_version/)]);
    expect(calibrationStarted(r.stderr)).toBe(false);
  });

  it('an output folder that cannot exist (a file on its path) is refused before calibration (exit 2)', async () => {
    const file = path.join(tmp, 'plain-file');
    fs.writeFileSync(file, 'x');
    const r = await runCli(['quantize', MOBILENET_BN, '-o', path.join(file, 'sub', 'm.onnx'), '--calib', CALIB_32, '--limit', '8']);
    expect(r.code).toBe(2);
    expect(errLines(r)).toEqual([expect.stringMatching(/cannot write .*m\.onnx: .*plain-file is not a folder/)]);
  });

  it("a config run's missing evaluation labels are found before quantizing (no output written)", async () => {
    const dir = path.join(tmp, 'run-missing');
    fs.mkdirSync(dir);
    const config = path.join(dir, 'qdeploy.config.json');
    fs.writeFileSync(
      config,
      JSON.stringify({ model: MOBILENET_BN, output: 'out.onnx', backend: 'tensorrt', calibration: { data: CALIB_32, limit: 8 }, evaluate: { data: CALIB_32, labels: 'missing.npy' } }),
    );
    const r = await runCli(['run', '-c', config, '--no-progress']);
    expect(r.code).toBe(2);
    expect(errLines(r)).toEqual([expect.stringMatching(/evaluate\.labels .*missing\.npy: no such file/)]);
    expect(fs.existsSync(path.join(dir, 'out.onnx'))).toBe(false);
  });

  it('a bad --calib-option key or value is bad input (exit 2), found before calibration', async () => {
    const out = path.join(tmp, 'opt.onnx');
    const base = ['quantize', MOBILENET_BN, '-o', out, '--calib', CALIB_32, '--limit', '8', '--calibrator', 'percentile'];
    const key = await runCli([...base, '--calib-option', 'percentil=99.9']);
    expect(key.code).toBe(2);
    expect(errLines(key)).toEqual([expect.stringMatching(/calibration option .*unknown option "percentil"/)]);
    const value = await runCli([...base, '--calib-option', 'percentile=250']);
    expect(value.code).toBe(2);
    expect(errLines(value)).toEqual([expect.stringMatching(/option "percentile" must be/)]);
  });

  it('a file over 2 GiB that is not ONNX is refused from its size and first bytes, naming it, without reading it', async () => {
    const big = path.join(tmp, 'huge.onnx');
    const fd = fs.openSync(big, 'w');
    fs.ftruncateSync(fd, 3 * 2 ** 30); // sparse: no disk used
    fs.closeSync(fd);
    const r = await runCli(['inspect', big], { timeoutMs: 30_000 });
    expect(r.code).toBe(2);
    expect(errLines(r)).toEqual([expect.stringMatching(/huge\.onnx: is 3\.0 GiB, over protobuf's 2 GiB limit/)]);
    fs.rmSync(big);

    const elf = path.join(tmp, 'not-a-model.onnx');
    fs.writeFileSync(elf, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]));
    const r2 = await runCli(['inspect', elf]);
    expect(r2.code).toBe(2);
    expect(errLines(r2)).toEqual([expect.stringMatching(/not-a-model\.onnx: not a valid ONNX model: it does not start like one \(first bytes 7f 45\)/)]);
  });
});

describe('a write that fails part-way', () => {
  it('disk full (here: the file-size limit, EFBIG) is one line naming the file, exit 1, no file or temporary left', async () => {
    const dir = path.join(tmp, 'full');
    fs.mkdirSync(dir);
    const out = path.join(dir, 'model.int8.onnx');
    // ulimit -f caps what this process may write (in 1 KiB blocks); SIGXFSZ ignored turns the
    // kill into an EFBIG write error, as ENOSPC would be on a full disk.
    const r = spawnSync('/bin/bash', ['-c', `trap '' XFSZ; ulimit -f 64; exec "${process.execPath}" "${BIN}" quantize "${MOBILENET_BN}" -o "${out}" --no-calib`], {
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
      timeout: 60_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr.split('\n').filter((l) => l.trim() && !/warning: no calibration data/.test(l))).toEqual([expect.stringMatching(/^qdeploy: writing .*model\.int8\.onnx failed: file too large .*\(EFBIG\); nothing was written there/)]);
    expect(fs.existsSync(out)).toBe(false);
    expect(tempFilesIn(dir)).toEqual([]);
  });
});
