// Adversarial family "output that can lie": names from a hostile model cannot drive the
// terminal or forge lines (text and JSON); a signal after the rename says the output was
// written; errors say what is really wrong (NUL in a location, a broken package.json, a
// thrown non-Error); onnxruntime's coloured log lines stay out of reports; labels that
// cannot be class indices are warned about; plugin exports that leave the package and a
// --reference that is not a model are refused.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { onnx } from '../../src/onnx/proto.js';
import { EVAL_X, EVAL_Y, MOBILENET_BN, errLines, makeTmp, requireBuilt, runCli, writePluginPackage } from '../fixtures/cli/helpers.js';
import { convWeight, renameFirstNode, renameInput, variant } from './models.js';
import { waitFor } from './fake-builder.js';

let tmp: string;
beforeAll(() => {
  requireBuilt();
  tmp = makeTmp('adv-lies');
});

// Clear screen, cursor home, a forged verdict on a line of its own; an 8-bit CSI; a bidi override.
const HOSTILE = '\u001b[2J\u001b[HALL GOOD\nALL GOOD\u009b31m\u202e';
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/;

describe('hostile names', () => {
  it('inspect and check print escaped names, never a raw control character or a forged line (text and JSON)', async () => {
    const file = variant(path.join(tmp, 'hostile-name.onnx'), (m) => renameFirstNode(m, HOSTILE));
    for (const args of [['inspect', file, '--explain'], ['inspect', file, '--json'], ['check', file], ['check', file, '--json']]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).not.toBe(2);
      const all = r.stdout + r.stderr;
      expect(all, args.join(' ')).not.toMatch(RAW_CONTROL);
      expect(all.split('\n').some((l) => /^\s*ALL GOOD/.test(l)), args.join(' ')).toBe(false);
      if (args.includes('--json')) expect(() => JSON.parse(r.stdout)).not.toThrow();
    }
  });

  it('an input name with a newline cannot forge a line in bench output or cut a data error', async () => {
    const file = variant(path.join(tmp, 'hostile-input.onnx'), (m) => renameInput(m, 'in\nALL GOOD'));
    const bench = await runCli(['bench', file, '--iterations', '2', '--warmup', '0']);
    expect(bench.code).toBe(0);
    expect(bench.stdout).toMatch(/in\\nALL GOOD \[1×1×28×28\]/);
    expect(bench.stdout.split('\n').some((l) => /^\s*ALL GOOD/.test(l))).toBe(false);
    const q = await runCli(['quantize', file, '-o', path.join(tmp, 'hi.onnx'), '--calib', EVAL_Y]);
    expect(q.code).toBe(2);
    expect(errLines(q)).toHaveLength(1);
    expect(q.stderr.split('\n').some((l) => /^\s*ALL GOOD/.test(l))).toBe(false);
  });

  it('a newline in a tensor name does not cut the error: one line, the name escaped', async () => {
    const file = variant(path.join(tmp, 'newline-name.onnx'), (m) => {
      m.graph!.node![0]!.input![0] = 'ghost\nALL GOOD';
    });
    const r = await runCli(['inspect', file]);
    expect(r.code).toBe(2);
    expect(errLines(r)).toEqual([expect.stringMatching(/reads tensor "ghost\\nALL GOOD", which no node, graph input or initializer provides$/)]);
  });
});

describe('a signal after the rename', () => {
  it('says the output was already written in full and exits 143', async () => {
    const out = path.join(tmp, 'signalled.int8.onnx');
    const r = await runCli(['quantize', MOBILENET_BN, '-o', out, '--no-calib'], {
      // Fault injection: the process blocks 1.5 s right after the rename, without polling.
      env: { QDEPLOY_FAULT_PAUSE_AFTER_RENAME_MS: '1500' },
      onSpawn: (child) => void waitFor(() => fs.existsSync(out), 30_000).then(() => child.kill('SIGTERM')),
    });
    expect(r.code).toBe(143);
    expect(r.stderr).toMatch(/interrupted \(SIGTERM\); .*signalled\.int8\.onnx was already written in full/);
    expect(fs.existsSync(out)).toBe(true);
  });
});

describe('errors that say what is wrong', () => {
  it('a NUL in an external-data location is named as such, not as an absolute path', async () => {
    const file = variant(path.join(tmp, 'nul-location.onnx'), (m) => {
      const t = convWeight(m);
      t.rawData = new Uint8Array(0);
      t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      t.externalData = [{ key: 'location', value: 'weights\u0000.bin' }];
    });
    const r = await runCli(['inspect', file]);
    expect(r.code).toBe(2);
    expect(errLines(r)).toEqual([expect.stringMatching(/external data location "weights\\x00\.bin" contains a NUL character/)]);
    expect(r.stderr).not.toMatch(/absolute path/);
  });

  it('a plugin folder with an invalid package.json is "not valid JSON", not "does not exist"', async () => {
    const dir = path.join(tmp, 'bad-json-plugin');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'package.json'), '{ "name": "x", ');
    fs.writeFileSync(path.join(dir, 'index.js'), 'export default { name: "x", register() {} };');
    const r = await runCli(['inspect', MOBILENET_BN, '--plugin', dir]);
    expect(r.code).toBe(2);
    expect(errLines(r)).toEqual([expect.stringMatching(/package\.json is not valid JSON/)]);
  });

  it('a plugin that throws a plain object: its content, never "[object Object]"', async () => {
    const dir = path.join(tmp, 'throw-plugin');
    writePluginPackage(dir, 'throws-object', `export default { name: 'throws', register() { throw { code: 42, why: 'nope' }; } };\n`);
    const r = await runCli(['inspect', MOBILENET_BN, '--plugin', 'throws-object'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(errLines(r)).toEqual([expect.stringMatching(/failed to register: a thrown value that is not an Error: \{"code":42,"why":"nope"\}/)]);
  });

  it('a plugin whose "exports" point outside its folder is refused', async () => {
    const dir = path.join(tmp, 'escape-plugin');
    fs.writeFileSync(path.join(tmp, 'outside.mjs'), 'export default { name: "outside", register() {} };');
    writePluginPackage(dir, 'escaper', '', { exports: { '.': '../../../outside.mjs' } });
    const r = await runCli(['inspect', MOBILENET_BN, '--plugin', 'escaper'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(errLines(r)).toEqual([expect.stringMatching(/"exports" of .* point outside the package/)]);
  });

  it('build --reference gets the checks every model argument gets (not a model, a FIFO: exit 2 before any build)', async () => {
    const text = path.join(tmp, 'notes.onnx');
    fs.writeFileSync(text, 'these are my notes');
    const fifo = path.join(tmp, 'ref.fifo.onnx');
    execFileSync('mkfifo', [fifo]);
    const trtexec = path.join(tmp, 'must-not-run');
    for (const ref of [text, fifo, path.join(tmp, 'missing.onnx')]) {
      const r = await runCli(['build', MOBILENET_BN, '--compare', 'fp16', '--reference', ref, '--no-log'], { env: { TRTEXEC: trtexec }, timeoutMs: 20_000 });
      expect(r.timedOut).toBe(false);
      expect(r.code, ref).toBe(2);
      expect(errLines(r)).toEqual([expect.stringContaining(path.basename(ref))]);
    }
  });
});

describe('reports', () => {
  it("bench output holds no onnxruntime log line (coloured warnings)", async () => {
    const file = variant(path.join(tmp, 'unused-initializer.onnx'), (m) => {
      m.graph!.initializer!.push({ name: 'unused_w', dims: [2], dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(8) });
    });
    const r = await runCli(['bench', file, '--iterations', '2', '--warmup', '0']);
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/\u001b|onnxruntime:|Removing initializer/);
  });

  it('labels that are not class indices of the model are warned about', async () => {
    const labels = path.join(tmp, 'labels-plus-100.npy');
    const buf = Buffer.from(fs.readFileSync(EVAL_Y));
    const headerLen = 10 + buf.readUInt16LE(8);
    for (let o = headerLen; o + 8 <= buf.length; o += 8) buf.writeBigInt64LE(buf.readBigInt64LE(o) + 100n, o);
    fs.writeFileSync(labels, buf);
    const r = await runCli(['eval', MOBILENET_BN, '--data', EVAL_X, '--labels', labels, '--limit', '16', '--no-progress']);
    expect(r.code).toBe(0);
    expect(errLines(r)).toEqual([expect.stringMatching(/warning: 16 of 16 labels are not class indices of the model's 10 outputs \(largest label 10\d\)/)]);
  });
});
