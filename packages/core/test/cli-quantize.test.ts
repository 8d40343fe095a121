// `qdeploy quantize`: the whole pipeline end to end (a QDQ model onnxruntime runs), the
// closing summary, and the refusals: output over input, missing data, unknown method.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { quantizeModel, type QuantizeSummary } from '../src/cli/pipeline/index.js';
import { loadModel } from '../src/onnx/load.js';
import { openNpy } from '../src/calibrate/data/npy.js';
import { CALIB_32, MOBILENET_BN, RESNET_BN, errLines, hasStackTrace, makeTmp, requireBuilt, runCli } from './fixtures/cli/helpers.js';

let tmp: string;
beforeAll(() => {
  requireBuilt();
  tmp = makeTmp('quantize');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const sha = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');

async function logits(model: string, x: Float32Array, n: number): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(model);
  try {
    const out = await s.run({ input: new ort.Tensor('float32', x, [n, 1, 28, 28]) });
    return out[s.outputNames[0]!]!.data as Float32Array;
  } finally {
    await s.release();
  }
}

function argmax(v: Float32Array, rows: number): number[] {
  const c = v.length / rows;
  return Array.from({ length: rows }, (_, r) => {
    let best = 0;
    for (let k = 1; k < c; k++) if (v[r * c + k]! > v[r * c + best]!) best = k;
    return best;
  });
}

describe('qdeploy quantize', () => {
  it('quantizes end to end: a QDQ model onnxruntime loads, close to FP32, and a summary', async () => {
    const out = path.join(tmp, 'e2e/new-folder/resnet.int8.onnx');
    const before = sha(RESNET_BN);
    const r = await runCli(['quantize', RESNET_BN, '-o', out, '--backend', 'tensorrt', '--calib', CALIB_32, '--calibrator', 'entropy', '--batch-size', '16']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(sha(RESNET_BN)).toBe(before);
    expect(r.stdout).toMatch(/^quantized for tensorrt/);
    expect(r.stdout).toMatch(/matches\s+17: ConvBNReLU 7, ConvBNAddReLU 6, ConvBN 2, GlobalAveragePool 1, Linear 1/);
    expect(r.stdout).toMatch(/quantizers\s+16 QuantStubs \(activations\), 16 WeightFakeQuantizes \(weights\)/);
    expect(r.stdout).toMatch(/calibration\s+entropy on 32 samples \(2 batches\) in [\d.]+ (s|ms)/);
    expect(r.stdout).toMatch(/output\s+.*resnet\.int8\.onnx \([\d.]+ KiB\)/);
    expect(fs.readdirSync(path.dirname(out))).toEqual(['resnet.int8.onnx']);

    const q = loadModel(out);
    const ops = q.graph.opCounts();
    expect(ops.QuantizeLinear).toBe(16);
    expect(ops.DequantizeLinear).toBeGreaterThanOrEqual(32);
    expect(ops.BatchNormalization).toBeUndefined();

    const npy = openNpy(CALIB_32);
    const x = npy.readRows(0, 32) as Float32Array;
    npy.close();
    const [fp32, int8] = await Promise.all([logits(RESNET_BN, x, 32), logits(out, x, 32)]);
    const a = argmax(fp32, 32);
    const b = argmax(int8, 32);
    expect(a.filter((v, i) => v === b[i]).length).toBeGreaterThanOrEqual(29);
  });

  it('--json prints the summary as data; --limit and --calib-option reach calibration', async () => {
    const out = path.join(tmp, 'json/m.onnx');
    const r = await runCli(['quantize', MOBILENET_BN, '-o', out, '--calib', CALIB_32, '--calibrator', 'percentile', '--calib-option', 'percentile=99.9', '--limit', '20', '--batch-size', '8', '--json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as QuantizeSummary;
    expect(s.output).toBe(out);
    expect(s.backend).toBe('tensorrt');
    expect(s.calibration).toMatchObject({ method: 'percentile', samples: 20, batches: 3, data: CALIB_32 });
    expect(s.matches.DepthwiseConv).toBe(5);
    expect(s.quantizers.QuantStub).toBeGreaterThan(0);
    expect(s.outputBytes).toBe(fs.statSync(out).size);
    expect(Object.keys(s.seconds)).toEqual(['load', 'transform', 'insertQdq', 'calibrate', 'save', 'total']);
  });

  it('never overwrites the input model: same path, a symlink, or the calibration data (exit 2, untouched)', async () => {
    const dir = path.join(tmp, 'protect');
    fs.mkdirSync(dir, { recursive: true });
    const model = path.join(dir, 'model.onnx');
    fs.copyFileSync(MOBILENET_BN, model);
    fs.symlinkSync(model, path.join(dir, 'link.onnx'));
    const calib = path.join(dir, 'calib.npy');
    fs.copyFileSync(CALIB_32, calib);
    const hashes = [sha(model), sha(calib)];
    for (const target of [model, path.join(dir, 'link.onnx'), path.join(dir, '.', 'model.onnx'), calib]) {
      const r = await runCli(['quantize', model, '-o', target, '--calib', calib], { cwd: dir });
      expect(r.code, target).toBe(2);
      expect(errLines(r)).toEqual([expect.stringMatching(/^qdeploy: refusing to write .*: it is the input .*; choose another output path$/)]);
    }
    expect([sha(model), sha(calib)]).toEqual(hashes);
    expect(fs.readdirSync(dir).sort()).toEqual(['calib.npy', 'link.onnx', 'model.onnx']);
  });

  it('usage errors exit 2 with one line', async () => {
    const out = path.join(tmp, 'usage/o.onnx');
    const cases: [string[], RegExp][] = [
      [['quantize', MOBILENET_BN, '-o', out], /^qdeploy: no calibration data: give --calibration-data <data> \(or --no-calibration to save placeholder scales\)$/],
      [['quantize'], /^qdeploy: missing required argument 'model'$/],
      [['quantize', MOBILENET_BN, '-o', out, '--calib', CALIB_32, '--calibrator', 'kl-magic'], /^qdeploy: unknown calibration method "kl-magic" \((registered|standard): entropy, minmax, mse, percentile;/],
      [['quantize', MOBILENET_BN, '-o', out, '--calib', CALIB_32, '--batch-size', '0'], /^qdeploy: option '--batch-size <n>' argument '0' is invalid\. expected a positive integer\.$/],
      [['quantize', MOBILENET_BN, '-o', out, '--calib', CALIB_32, '--frobnicate'], /^qdeploy: unknown option '--frobnicate'$/],
      [['quantize', MOBILENET_BN, '-o', out, '--calib', path.join(tmp, 'nope.npy')], /^qdeploy: .*nope\.npy: no such file or folder/],
      [['quantize', MOBILENET_BN, '-o', tmp, '--calib', CALIB_32], /^qdeploy: output .* is a folder; give a file name/],
      [['quantize', MOBILENET_BN, '-o', out, '--calib', CALIB_32, '--input-name', 'pixels'], /^qdeploy: inputName 'pixels' is not an input of the model \(model inputs: 'input'\)$/],
      [['bogus'], /^qdeploy: unknown command 'bogus'/],
      [[], /Usage: qdeploy/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(hasStackTrace(r.stderr), args.join(' ')).toBe(false);
      if (args.length) expect(errLines(r), args.join(' ')).toEqual([expect.stringMatching(message)]);
      else expect(r.stderr).toMatch(message);
    }
    expect(fs.existsSync(out)).toBe(false);
  });

  it('--no-calib saves placeholder scales with a one-line warning', async () => {
    const out = path.join(tmp, 'nocalib/o.onnx');
    const r = await runCli(['quantize', MOBILENET_BN, '-o', out, '--no-calib']);
    expect(r.code).toBe(0);
    expect(errLines(r)).toEqual([expect.stringMatching(/^qdeploy: warning: no calibration data: the \d+ activation quantizers keep placeholder scales/)]);
    expect(r.stdout).toMatch(/calibration\s+none \(placeholder activation scales\)/);
    expect(fs.existsSync(out)).toBe(true);
  });

  it('--verbose adds the stack trace; --help works on every command', async () => {
    const r = await runCli(['quantize', 'missing.onnx', '-o', path.join(tmp, 'v.onnx'), '--calib', CALIB_32, '--verbose']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^qdeploy: .*missing\.onnx: no such file\n/);
    expect(r.stderr).toMatch(/\n\s+at /);
    for (const cmd of ['quantize', 'run', 'inspect', 'eval', 'bench', 'build', 'check']) {
      const h = await runCli([cmd, '--help']);
      expect(h.code, cmd).toBe(0);
      expect(h.stdout, cmd).toMatch(new RegExp(`^Usage: qdeploy ${cmd} `));
      expect(h.stdout).toContain('--verbose');
    }
    const v = await runCli(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('in-process', () => {
  it('quantizeModel() is the library function behind the command', async () => {
    const out = path.join(tmp, 'lib/o.onnx');
    const s = await quantizeModel({ model: MOBILENET_BN, output: out, backend: 'tensorrt', calibration: { data: CALIB_32, method: 'minmax', limit: 8 }, progress: false });
    expect(s.calibration).toMatchObject({ method: 'minmax', samples: 8 });
    expect(fs.statSync(out).size).toBe(s.outputBytes);
  });

  it('histogramStride reaches calibration: every value (1) vs the default grid give other activation scales', async () => {
    const scales = async (histogramStride?: number) => {
      const out = path.join(tmp, `stride/${histogramStride ?? 'default'}.onnx`);
      await quantizeModel({ model: MOBILENET_BN, output: out, backend: 'tensorrt', calibration: { data: CALIB_32, method: 'percentile', limit: 16, histogramStride }, progress: false });
      const m = loadModel(out);
      return m.graph.nodes.filter((n) => n.opType === 'QuantizeLinear').map((n) => n.input(1)!.constant()!.toNumbers()[0]!);
    };
    const [all, grid] = [await scales(1), await scales(undefined)];
    expect(all.length).toBe(grid.length);
    expect(all.filter((s, i) => s !== grid[i]).length).toBeGreaterThan(0);
    expect(await runCli(['quantize', MOBILENET_BN, '-o', path.join(tmp, 'stride/bad.onnx'), '--calib', CALIB_32, '--histogram-stride', '0'])).toMatchObject({ code: 2 });
  });

  it('main() returns the exit code and writes to the given streams', async () => {
    let out = '';
    let err = '';
    const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t) };
    expect(await main(['quantize', MOBILENET_BN, '-o', MOBILENET_BN, '--calib', CALIB_32], io)).toBe(2);
    expect(err).toMatch(/^qdeploy: refusing to write .*fmnist_mobilenet_bn\.onnx: it is the input/);
    err = '';
    expect(await main(['inspect', MOBILENET_BN, '--json'], io)).toBe(0);
    expect(JSON.parse(out).backend).toBe('tensorrt');
    expect(err).toBe('');
  });
});
