// `qdeploy build` of strongly typed exports, driven through the stand-in trtexec
// (test/fixtures/fake-trtexec.mjs), which checks its arguments the way each TensorRT
// version's option parser does.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertQdq, loadModel, saveModel, toStronglyTyped, transform } from '@qdeploy/core';
import { TENSORRT_PATTERNS, detectTrtVersion, parseTrtexecOutput } from '../src/index.js';
import { buildTensorrt } from '../src/build.js';
import type { EngineComparison } from '../src/trtexec/compare.js';
import { FAKE_TRTEXEC, workDir } from './trtexec-helpers.js';
import { vendored } from './helpers.js';

const WEAK = ['--best', '--fp16', '--int8'];
let dir: string;
let cleanup: () => Promise<void>;
let fp32Qdq: string;
let fp16Qdq: string;
const reference = vendored('fmnist_resnet.onnx');

beforeAll(async () => {
  ({ dir, cleanup } = await workDir());
  const { model, matches } = transform(loadModel(reference), { patterns: TENSORRT_PATTERNS });
  const exported = insertQdq(model, matches).toExportModel({ quiet: true });
  fp32Qdq = path.join(dir, 'resnet.int8.onnx');
  fp16Qdq = path.join(dir, 'resnet.int8.fp16.onnx');
  await saveModel(exported, fp32Qdq);
  await saveModel(toStronglyTyped(exported, { float: 'fp16' }).model, fp16Qdq);
});
afterAll(() => cleanup());

const run = async (onnx: string, scenario: string, options: Record<string, unknown> = {}) => {
  const argsOut = path.join(dir, `args-${scenario}-${Math.random().toString(36).slice(2)}.json`);
  const report = await buildTensorrt(onnx, { trtexecPath: FAKE_TRTEXEC, env: { FAKE_TRTEXEC_SCENARIO: scenario, FAKE_TRTEXEC_ARGS_OUT: argsOut }, ...options });
  return { report, args: JSON.parse(await readFile(argsOut, 'utf8')) as string[] };
};

describe('strongly typed builds', () => {
  it('reads the TensorRT version from the trtexec banner', async () => {
    const at = (scenario: string) => detectTrtVersion({ trtexecPath: FAKE_TRTEXEC, env: { FAKE_TRTEXEC_SCENARIO: scenario } });
    expect(await at('trt10')).toBe('10.9.0');
    expect(await at('trt11')).toBe('11.0.0');
    expect(await at('trt8.6')).toBe('8.6.1');
  });

  for (const [scenario, version] of [['trt10', '10.9.0'], ['trt11', '11.0.0']] as const) {
    it(`TensorRT ${version}: an FP16 export builds with --stronglyTyped and no precision flag`, async () => {
      const { report, args } = await run(fp16Qdq, scenario);
      expect(args).toContain('--stronglyTyped');
      for (const f of WEAK) expect(args).not.toContain(f);
      expect(args).toContain(`--onnx=${fp16Qdq}`);
      expect(report.summary.join('\n')).toContain(`TensorRT     ${version}`);
      const summary = (report as unknown as { result: { summary: { stronglyTyped?: boolean; passed?: boolean } } }).result.summary;
      expect(summary.stronglyTyped).toBe(true);
      expect(summary.passed).toBe(true);
    });
  }

  it('TensorRT 10: an FP32-float QDQ model still builds with --best (weak typing, deprecated but there)', async () => {
    const { args } = await run(fp32Qdq, 'trt10');
    expect(args).toContain('--best');
    expect(args).not.toContain('--stronglyTyped');
  });

  it('TensorRT 11: --best / --fp16 / --int8 are refused with what to do instead (the version read from the run\'s banner)', async () => {
    await expect(run(fp32Qdq, 'trt11')).rejects.toThrow(/TensorRT 11\.0\.0 has no --best: TensorRT 11 removed weak typing .*--float fp16/);
    await expect(run(fp32Qdq, 'trt11', { precision: ['fp16', 'int8'] })).rejects.toThrow(/has no --fp16 \/ --int8/);
    // Told the version, build refuses before launching trtexec at all.
    await expect(buildTensorrt(fp32Qdq, { trtexecPath: '/nonexistent/trtexec', trtVersion: '11.0' })).rejects.toThrow(/TensorRT 11\.0 has no --best/);
  });

  it('the parser reads strong typing from the echoed command and the flags it disabled', () => {
    const log = [
      '&&&& RUNNING TensorRT.trtexec [TensorRT v101200] [b10] # trtexec --onnx=m.onnx --stronglyTyped --fp16',
      '[12/05/2026-01:00:00] [W] Invalid usage, setting fp16 mode is not allowed if graph is strongly typed. Disabling BuilderFlag::kFP16.',
      '&&&& PASSED TensorRT.trtexec [TensorRT v101200] [b10] # trtexec --onnx=m.onnx --stronglyTyped --fp16',
    ].join('\n');
    const s = parseTrtexecOutput(log);
    expect(s.stronglyTyped).toBe(true);
    expect(s.ignoredPrecisionFlags).toEqual(['--fp16']);
    expect(s.tensorrtVersion).toBe('10.12.0');
    expect(parseTrtexecOutput(log.replaceAll(' --stronglyTyped', '')).stronglyTyped).toBeUndefined();
  });

  it('TensorRT 8.6 has no --stronglyTyped: refused with the version named', async () => {
    await expect(run(fp16Qdq, 'trt8.6')).rejects.toThrow(/needs TensorRT 10 \(--stronglyTyped does not exist in TensorRT 8\.6\.1\)/);
  });

  it('a strongly typed model with a weak precision is refused, naming the model', async () => {
    await expect(run(fp16Qdq, 'trt10', { precision: 'best' })).rejects.toThrow(/resnet\.int8\.fp16\.onnx is strongly typed \(its float regions are FP16\): build it with precision 'stronglyTyped'/);
  });

  it('--compare fp16: the reference is written in FP16 and both engines build strongly typed', async () => {
    const { report } = await run(fp16Qdq, 'trt10', { compare: 'fp16', reference });
    const cmp = (report as unknown as { comparison: EngineComparison }).comparison;
    expect(cmp.entries.map((e) => e.label)).toEqual(['int8', 'fp16']);
    for (const e of cmp.entries) {
      expect(e.result.args).toContain('--stronglyTyped');
      for (const f of WEAK) expect(e.result.args).not.toContain(f);
    }
    expect(cmp.entries[1]!.onnxPath).toMatch(/fmnist_resnet\.fp16\.onnx$/);
  });
});
