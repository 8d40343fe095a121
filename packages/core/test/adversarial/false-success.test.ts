// Adversarial family "false success": a run that did not produce what it promised must
// not exit 0 — a build without its engine or its performance summary, a check of a model
// onnxruntime refuses, a quantization of weights holding NaN or Inf.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CALIB_32, MOBILENET_BN, errLines, makeTmp, requireBuilt, runCli } from '../fixtures/cli/helpers.js';
import { fakeTrtexec } from './fake-builder.js';
import { convWeight, setFirstValue, setOpset, variant } from './models.js';

let tmp: string;
beforeAll(() => {
  requireBuilt();
  tmp = makeTmp('adv-false');
});

describe('build', () => {
  it('fails (exit 1, one line) when trtexec exits 0 without writing the engine', async () => {
    const trtexec = fakeTrtexec(tmp, 'silent-trtexec', 'echo "garbage"\nexit 0');
    const engine = path.join(tmp, 'never.engine');
    const r = await runCli(['build', MOBILENET_BN, '-o', engine, '--no-log'], { env: { TRTEXEC: trtexec } });
    expect(r.code).toBe(1);
    expect(errLines(r)).toEqual([expect.stringMatching(/^qdeploy: trtexec exited with code 0 but wrote no engine file .*never\.engine/)]);
    expect(r.stdout).not.toMatch(/engine/);
  });

  it('fails when inference was asked for and trtexec printed no performance summary', async () => {
    const trtexec = fakeTrtexec(tmp, 'no-summary-trtexec', 'echo "&&&& PASSED TensorRT.trtexec [TensorRT v100900] # trtexec"\nexit 0');
    const r = await runCli(['build', MOBILENET_BN, '--no-log'], { env: { TRTEXEC: trtexec } });
    expect(r.code).toBe(1);
    expect(errLines(r)).toEqual([expect.stringMatching(/no performance summary/)]);
  });
});

describe('check validates the model first (exit 2)', () => {
  it.each([
    ['an unknown op', (m: Parameters<Parameters<typeof variant>[1]>[0]) => void (m.graph!.node![1]!.opType = 'NotAnOnnxOp')],
    ['an opset from the future', (m: Parameters<Parameters<typeof variant>[1]>[0]) => setOpset(m, 999)],
    ['an IR version from the future', (m: Parameters<Parameters<typeof variant>[1]>[0]) => void (m.irVersion = 999)],
  ])('refuses a model with %s', async (name, edit) => {
    const file = variant(path.join(tmp, `${name.replace(/\W+/g, '-')}.onnx`), edit);
    const r = await runCli(['check', file, '--backend', 'tensorrt']);
    expect(r.code).toBe(2);
    expect(errLines(r)).toEqual([expect.stringMatching(/not a valid model, onnxruntime cannot load it/)]);
    expect(r.stdout).not.toMatch(/no findings/);
  });
});

describe('non-finite weights', () => {
  it('refuses NaN or Inf in a weight, naming the tensor; --allow-nonfinite-weights quantizes it with a warning', async () => {
    let weight = '';
    const file = variant(path.join(tmp, 'nan.onnx'), (m) => {
      const t = convWeight(m);
      weight = t.name!;
      setFirstValue(t, Number.NaN);
    });
    const out = path.join(tmp, 'nan.int8.onnx');
    const args = ['quantize', file, '-o', out, '--calib', CALIB_32, '--limit', '8', '--no-progress'];
    const r = await runCli(args);
    expect(r.code).toBe(2);
    expect(errLines(r)).toEqual([expect.stringMatching(/weight ".*" holds 1 NaN of \d+ values/)]);
    expect(r.stderr).toContain(weight.slice(0, 10));
    expect(fs.existsSync(out)).toBe(false);

    const inf = variant(path.join(tmp, 'inf.onnx'), (m) => setFirstValue(convWeight(m), Number.POSITIVE_INFINITY));
    const ri = await runCli(['quantize', inf, '-o', out, '--calib', CALIB_32, '--limit', '8', '--no-progress']);
    expect(ri.code).toBe(2);
    expect(ri.stderr).toMatch(/1 ±Inf/);

    // (Calibration would then refuse the NaN activations the weight produces: --no-calib.)
    const allowed = await runCli(['quantize', file, '-o', out, '--no-calib', '--allow-nonfinite-weights']);
    expect(allowed.code).toBe(0);
    expect(allowed.stderr).toMatch(/warning: .*holds 1 NaN.*quantized anyway/);
    expect(fs.existsSync(out)).toBe(true);
  });
});
