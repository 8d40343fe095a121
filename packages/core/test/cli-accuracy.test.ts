// The accuracy tools on the command line: exclusion flags (and ModelOpt's spellings) in
// inspect and quantize, analyze's ranking, tune's search with its config snippet, --report.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatTuneReport, type AnalyzeSummary, type InspectReport, type QuantizeSummary, type TuneSummary } from '../src/cli/pipeline/index.js';
import { repoRoot } from './helpers/fixtures.js';
import { CALIB_32, EVAL_X, EVAL_Y, RESNET_BN, makeTmp, requireBuilt, runCli } from './fixtures/cli/helpers.js';

beforeAll(() => requireBuilt());
const FAKE_TRTEXEC = path.join(repoRoot(), 'packages/backend-tensorrt/test/fixtures/fake-trtexec.mjs');

describe('exclusion on the command line', () => {
  it('inspect names each excluded match and its rule; ModelOpt spellings work; a rule that catches nothing is a warning', async () => {
    const r = await runCli(['inspect', RESNET_BN, '--json', '--op_types_to_exclude', 'Gemm', '--exclude-patterns', 'ConvBN', '--nodes_to_exclude', '/^\\/l3\\/l3\\.1\\//', '--exclude-nodes', 'nosuch']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as InspectReport;
    const rules = Object.fromEntries(j.excluded.map((e) => [e.id, `${e.rule.kind} ${e.rule.value}`]));
    expect(rules['/fc/Gemm']).toBe('opType Gemm');
    expect(rules['/l2/l2.0/sc/sc.0/Conv']).toBe('pattern ConvBN');
    expect(rules['/l3/l3.1/Relu']).toBe('node /^\\/l3\\/l3\\.1\\//');
    expect(j.excluded).toHaveLength(1 + 2 + 2);
    expect(j.unusedExcludeRules).toEqual(['node nosuch']);
    expect(j.counts.WeightFakeQuantize).toBe(16 - 5);
    const text = await runCli(['inspect', RESNET_BN, '--exclude-op-types', 'Gemm']);
    expect(text.stdout).toMatch(/excluded \(1\)[\s\S]*Linear\s+\/fc\/Gemm\s+opType Gemm/);
  });

  it('quantize --exclude-matches keeps that match in float and --report writes a self-contained page', async () => {
    const dir = makeTmp('qdeploy-cli-accuracy-');
    const out = path.join(dir, 'm.onnx');
    const report = path.join(dir, 'r.html');
    const r = await runCli(['quantize', RESNET_BN, '-o', out, '--calib', CALIB_32, '--calibrator', 'minmax', '--exclude-matches', '/l1/l1.0/Relu', '--report', report, '--json']);
    expect(r.stderr).toBe('');
    const j = JSON.parse(r.stdout) as QuantizeSummary;
    expect(j.excluded).toEqual([{ id: '/l1/l1.0/Relu', pattern: 'ConvBNAddReLU', rule: 'match /l1/l1.0/Relu' }]);
    expect(j.quantizers.WeightFakeQuantize).toBe(15);
    const html = fs.readFileSync(report, 'utf8');
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain('<svg');
    expect(html).toContain('data-match="/l1/l1.0/Relu"');
    expect(html).not.toMatch(/<script|<link|src="http/);
    // minmax keeps no histogram: the report took one extra percentile pass for them.
    expect((html.match(/<figure class="hist">/g) ?? []).length).toBe(j.quantizers.QuantStub);
  });
});

describe('analyze and tune', () => {
  it('analyze --json ranks every quantized match with both measurements', async () => {
    const r = await runCli(['analyze', RESNET_BN, '--calib', CALIB_32, '--calibrator', 'minmax', '--data', EVAL_X, '--labels', EVAL_Y, '--data-limit', '20', '--json', '--activation-bits', '4', '--weight-bits', '4'], { timeoutMs: 110_000 });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as AnalyzeSummary;
    const s = j.sensitivity;
    expect(s.samples).toBe(20);
    expect(s.matches).toHaveLength(16); // every match with a quantizer (not GlobalAveragePool)
    for (let i = 1; i < s.matches.length; i++) expect(s.matches[i]!.only.sqnrDb).toBeGreaterThanOrEqual(s.matches[i - 1]!.only.sqnrDb);
    expect(s.matches[0]!.only.top1).toBeTypeOf('number');
    expect(s.stubs).toHaveLength(16);
    expect(s.runs).toBe(2 * 16 + 2);
  });

  it('tune writes the model, a config snippet that reproduces its placement, and (--build-steps) each step\'s engine latency', async () => {
    const dir = makeTmp('qdeploy-cli-tune-');
    const out = path.join(dir, 'tuned.onnx');
    const r = await runCli(['tune', RESNET_BN, '-o', out, '--calib', CALIB_32, '--calibrator', 'minmax', '--data', EVAL_X, '--labels', EVAL_Y, '--data-limit', '40', '--metric', 'sqnr', '--min-sqnr', '20', '--activation-bits', '4', '--weight-bits', '4', '--json', '--build-steps'], { env: { TRTEXEC: FAKE_TRTEXEC }, timeoutMs: 110_000 });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as TuneSummary;
    // --build-steps: every step's model went through trtexec (a stand-in here) and its latency is reported.
    expect(j.builds!.map((b) => b.step)).toEqual(j.result.steps.map((x) => x.step));
    for (const b of j.builds!) expect(b.summary.join('\n')).toMatch(/latency\s+median [\d.]+ ms/);
    expect(fs.existsSync(out)).toBe(true);
    expect(j.heldOutData).toMatch(/samples 20–39$/);
    expect(j.result.tuning.samples).toBe(20);
    expect(j.result.heldOut!.samples).toBe(20);
    expect(j.result.tuning.met).toBe(true);
    expect(j.result.steps[0]!.action).toBe('start');
    // The snippet, fed back through inspect as a config, excludes exactly the float matches.
    const config = path.join(dir, 'qdeploy.config.json');
    fs.writeFileSync(config, JSON.stringify({ model: RESNET_BN, output: out, backend: 'tensorrt', quant: { activation: { nBits: 4 }, weight: { nBits: 4 }, ...j.result.configSnippet } }));
    const i = JSON.parse((await runCli(['inspect', RESNET_BN, '-c', config, '--json'])).stdout) as InspectReport;
    expect(i.excluded.map((e) => e.id).sort()).toEqual([...j.result.float].sort());
    const text = formatTuneReport(j);
    expect(text).toMatch(new RegExp(`held out\\s+.*${j.result.heldOut!.met ? 'within budget' : 'OVER BUDGET'}`));
    expect(text).toContain('"exclude"');
    if (!j.result.heldOut!.met) expect(text).toMatch(/NOT on the held-out data/);
  });
});
