// -o is optional: quantize writes <name>.int8.onnx beside the input, and never over an
// existing file there without --force.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultOutputPath } from '../src/cli/default-output.js';
import { CALIB_32, RESNET_BN, makeTmp, requireBuilt, runCli } from './fixtures/cli/helpers.js';

let tmp: string;
beforeAll(() => {
  requireBuilt();
  tmp = makeTmp('default-output');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('quantize without -o', () => {
  it('names the output <name>.int8.onnx beside the input', () => {
    expect(defaultOutputPath('/m/resnet50.onnx')).toBe('/m/resnet50.int8.onnx');
    expect(defaultOutputPath('/m/model.ONNX')).toBe('/m/model.int8.onnx');
    expect(defaultOutputPath('/m/model')).toBe('/m/model.int8.onnx');
  });

  it('writes it, refuses to replace it on the next run, and replaces it with --force', async () => {
    const model = path.join(tmp, 'resnet.onnx');
    fs.copyFileSync(RESNET_BN, model);
    const args = ['quantize', model, '--calibration-data', CALIB_32, '--limit', '16', '--batch-size', '16', '--no-progress'];
    const first = await runCli(args);
    expect(first.code).toBe(0);
    const out = path.join(tmp, 'resnet.int8.onnx');
    expect(fs.statSync(out).size).toBeGreaterThan(0);
    expect(first.stdout).toMatch(/resnet\.int8\.onnx/);

    const before = fs.statSync(out).mtimeMs;
    const second = await runCli(args);
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(/resnet\.int8\.onnx already exists: pass --force to replace it, or -o to write elsewhere/);
    expect(fs.statSync(out).mtimeMs).toBe(before);

    const forced = await runCli([...args, '--force']);
    expect(forced.code).toBe(0);
  });
});
