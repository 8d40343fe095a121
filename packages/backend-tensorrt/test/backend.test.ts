import { afterEach, describe, expect, it } from 'vitest';
import { countMatches, loadModel, transform } from '@qdeploy/core';
import { tensorrtBackend } from '../src/index.js';
import { FAKE_TRTEXEC, workDir } from './trtexec-helpers.js';
import { vendored } from './helpers.js';

describe('tensorrtBackend', () => {
  const dirs: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of dirs.splice(0)) await c();
  });

  it('builds through trtexec with the engine written where `output` says', async () => {
    const { dir, onnx, cleanup } = await workDir();
    dirs.push(cleanup);
    const report = await tensorrtBackend.build!(onnx, { output: `${dir}/m.engine`, trtexecPath: FAKE_TRTEXEC, useCudaGraph: true });
    expect(report.output).toBe(`${dir}/m.engine`);
    const text = report.summary.join('\n');
    expect(text).toMatch(/--onnx=.*model\.onnx --best --saveEngine=.*m\.engine --useCudaGraph/);
    expect(text).toMatch(/throughput\s+3921\.1 qps/);
  });

  it('compares against FP16 of the reference model, and refuses without one', async () => {
    const { onnx, cleanup } = await workDir();
    dirs.push(cleanup);
    await expect(tensorrtBackend.build!(onnx, { compare: 'fp16', trtexecPath: FAKE_TRTEXEC })).rejects.toThrow(/needs the FP32 model/);
    const report = await tensorrtBackend.build!(onnx, { compare: 'fp16', reference: onnx, trtexecPath: FAKE_TRTEXEC });
    const text = report.summary.join('\n');
    expect(text).toMatch(/Speed-up vs fp16\s+1\.21×\s+1\.00×/);
  });

  it('configures the Linear size rule from backend options and refuses unknown ones', () => {
    const vit = loadModel(vendored('fmnist_vit_small.onnx'));
    const byDefault = countMatches(transform(vit, { patterns: tensorrtBackend.patterns }).matches);
    const all = countMatches(transform(vit, { patterns: tensorrtBackend.patternsFor!({ minLinearSize: 0 }) }).matches);
    expect(byDefault.SmallLinear).toBe(18);
    expect(all.SmallLinear).toBeUndefined();
    expect(all.Linear! + all.LinearAct!).toBe(19);
    expect(() => tensorrtBackend.patternsFor!({ minLinearSize: -1 })).toThrow(/minLinearSize/);
    expect(() => tensorrtBackend.patternsFor!({ bogus: 1 })).toThrow(/unknown tensorrt backend option "bogus"/);
  });
});
