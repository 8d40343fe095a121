// `qdeploy eval`, `bench`, `build` and `check`: thin commands over evaluateModel,
// benchmarkModel and the backend's build / check (a test backend plugin stands in for
// backends whose builder or checker is elsewhere).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALIB_32, EVAL_X, EVAL_Y, MOBILENET_BN, errLines, makeTmp, requireBuilt, runCli } from './fixtures/cli/helpers.js';

let tmp: string;
let qdq: string;
beforeAll(async () => {
  requireBuilt();
  tmp = makeTmp('evalbench');
  qdq = path.join(tmp, 'm.int8.onnx');
  const r = await runCli(['quantize', MOBILENET_BN, '-o', qdq, '--calib', CALIB_32]);
  if (r.code !== 0) throw new Error(r.stderr);
  fs.writeFileSync(
    path.join(tmp, 'test-backend.mjs'),
    `export default {
  name: 'test-backend',
  register(ctx) {
    ctx.registerBackend({ name: 'nobuild', patterns: [] });
    ctx.registerBackend({
      name: 'testbe',
      patterns: [],
      async build(onnxPath, options) {
        return { summary: ['built ' + onnxPath.split('/').pop(), 'options ' + JSON.stringify(options)], output: options.output };
      },
      check(model) {
        const q = model.graph.nodes.filter((n) => n.opType === 'QuantizeLinear').length;
        return [
          { severity: 'info', code: 'qdq-count', message: q + ' QuantizeLinear nodes' },
          ...(process.env.TEST_CHECK_ERROR ? [{ severity: 'error', code: 'bad-placement', node: 'n1', message: 'Q/DQ breaks a fusion' }] : []),
        ];
      },
    });
  },
};
`,
  );
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('qdeploy eval / bench', () => {
  it('eval: top-1, and agreement with the FP32 reference', async () => {
    const r = await runCli(['eval', qdq, '--data', EVAL_X, '--labels', EVAL_Y, '--ref', MOBILENET_BN, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { samples: number; top1: number; ref: { agreement: number; top1: number } };
    expect(j.samples).toBe(100);
    expect(j.top1).toBeGreaterThan(0.85);
    expect(j.ref.agreement).toBeGreaterThan(0.9);
    const text = await runCli(['eval', qdq, '--data', EVAL_X, '--labels', EVAL_Y, '--limit', '20']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/samples\s+20\ntop-1\s+[\d.]+ %/);
  });

  it('eval: bad input exits 2', async () => {
    const missing = await runCli(['eval', qdq, '--data', EVAL_X]);
    expect(missing.code).toBe(2);
    expect(errLines(missing)).toEqual(["qdeploy: required option '--labels <npy>' not specified"]);
    const wrong = await runCli(['eval', qdq, '--data', EVAL_Y, '--labels', EVAL_Y]);
    expect(wrong.code).toBe(2);
    expect(errLines(wrong)).toHaveLength(1);
    expect(errLines(wrong)[0]).toMatch(/^qdeploy: /);
  });

  it('bench: latency and throughput, with --compare', async () => {
    const r = await runCli(['bench', qdq, '--iterations', '5', '--warmup', '1', '--batch-size', '2', '--compare', MOBILENET_BN, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { iterations: number; batchSize: number; throughput: number; speedup: number; compare: { model: string } };
    expect(j).toMatchObject({ iterations: 5, batchSize: 2 });
    expect(j.throughput).toBeGreaterThan(0);
    expect(j.speedup).toBeGreaterThan(0);
    const text = await runCli(['bench', qdq, '--iterations', '3', '--warmup', '0']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/latency ms\s+min/);
    expect(text.stdout).toMatch(/throughput\s+[\d.]+ samples\/s/);
  });
});

describe('qdeploy build / check', () => {
  const plugin = () => path.join(tmp, 'test-backend.mjs');

  it('build calls backend.build with -o, --set and the arguments after --', async () => {
    const r = await runCli(['build', qdq, '--plugin', plugin(), '--backend', 'testbe', '-o', 'm.engine', '--set', 'precision="best"', '--set', 'workspaceMiB=512', '--', '--useCudaGraph', '--noDataTransfers'], { cwd: tmp });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('built m.int8.onnx');
    const opts = JSON.parse(/options (.*)/.exec(r.stdout)![1]!) as Record<string, unknown>;
    expect(opts).toEqual({ precision: 'best', workspaceMiB: 512, output: path.join(tmp, 'm.engine'), extraArgs: ['--useCudaGraph', '--noDataTransfers'] });
    expect(r.stdout).toMatch(/artifact\s+m\.engine/);
  });

  it('build with a backend that has no builder exits 2', async () => {
    const r = await runCli(['build', qdq, '--plugin', plugin(), '--backend', 'nobuild']);
    expect(r.code).toBe(2);
    expect(errLines(r)).toEqual(['qdeploy: backend nobuild has no builder']);
  });

  it('check prints findings; exit 1 when there are errors; --json', async () => {
    const ok = await runCli(['check', qdq, '--plugin', plugin(), '--backend', 'testbe']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/0 errors, 0 warnings, 1 info \(backend testbe\)/);
    expect(ok.stdout).toMatch(/info\s+qdq-count\s+\d+ QuantizeLinear nodes/);
    const bad = await runCli(['check', qdq, '--plugin', plugin(), '--backend', 'testbe', '--json'], { env: { TEST_CHECK_ERROR: '1' } });
    expect(bad.code).toBe(1);
    const j = JSON.parse(bad.stdout) as { counts: { error: number }; findings: { code: string }[] };
    expect(j.counts.error).toBe(1);
    expect(j.findings.map((f) => f.code)).toEqual(['qdq-count', 'bad-placement']);
    const none = await runCli(['check', qdq, '--plugin', plugin(), '--backend', 'nobuild']);
    expect(none.code).toBe(2);
    expect(errLines(none)).toEqual(['qdeploy: backend nobuild has no checker']);
  });
});
