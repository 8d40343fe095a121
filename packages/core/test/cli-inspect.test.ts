// `qdeploy inspect`: op counts, matches by pattern, QuantStub / WeightFakeQuantize placement
// with the matches that asked for them, unmatched nodes; a table and a --json form.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InspectReport } from '../src/cli/pipeline/index.js';
import { modelToBytes } from '../src/index.js';
import { buildEfficientNetB0Like } from '../src/testing/index.js';
import { MOBILENET_BN, RESNET_BN, errLines, makeTmp, requireBuilt, runCli } from './fixtures/cli/helpers.js';
import { checkInspectExplain } from './fixtures/cli/inspect-explain.js';

// A squeeze-excitation network for --explain: EfficientNet-B0 generated at 64×64 (the real
// export: cli-inspect.exports.test.ts).
let tmp = '';
let seModel = '';

beforeAll(() => {
  requireBuilt();
  tmp = makeTmp('inspect');
  seModel = path.join(tmp, 'efficientnet_b0_like.onnx');
  fs.writeFileSync(seModel, modelToBytes(buildEfficientNetB0Like()));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('qdeploy inspect', () => {
  it('--json on the Fashion-MNIST ResNet: the counts a person can check against the architecture', async () => {
    const r = await runCli(['inspect', RESNET_BN, '--backend', 'tensorrt', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as InspectReport;
    expect(j.backend).toBe('tensorrt');
    expect(j.nodes).toEqual({ before: 54, after: 37 });
    expect(j.opCounts).toMatchObject({ Conv: 15, BatchNormalization: 15, Relu: 13, Add: 6, Identity: 2, Gemm: 1, Flatten: 1, GlobalAveragePool: 1 });
    expect(j.opCountsAfter.BatchNormalization).toBeUndefined();
    expect(j.conversions).toEqual({ RemoveIdentity: 2, FoldBatchNorm: 15 });
    // stem + 6 blocks' first conv = 7 ConvBNReLU; 6 residual adds; 2 projection shortcuts.
    const counts = Object.fromEntries(j.patterns.map((p) => [p.pattern, p.count]));
    expect(counts).toEqual({ ConvBNReLU: 7, ConvBNAddReLU: 6, ConvBN: 2, GlobalAveragePool: 1, Linear: 1 });
    expect(j.patterns.find((p) => p.pattern === 'ConvBNAddReLU')!.qdqPoints).toEqual(['input', 'residual']);
    expect(j.patterns.find((p) => p.pattern === 'GlobalAveragePool')!.qdqPoints).toEqual([]);
    expect(j.matches).toHaveLength(17);
    expect(j.counts).toEqual({ QuantStub: 16, WeightFakeQuantize: 16 });

    // The graph input is quantized for the stem; each residual Add gets its skip input quantized.
    const input = j.quantStubs.find((s) => s.tensor === 'input')!;
    expect(input.producer).toBeNull();
    expect(input.for).toEqual([{ pattern: 'ConvBNReLU', anchor: '/stem/stem.2/Relu', role: 'input' }]);
    const residual = j.quantStubs.flatMap((s) => s.for).filter((f) => f.role === 'residual');
    expect(residual).toHaveLength(6);
    expect(residual.every((f) => f.pattern === 'ConvBNAddReLU')).toBe(true);
    // One stub per tensor even when two matches ask for it.
    const shared = j.quantStubs.find((s) => s.tensor === '/stem/stem.2/Relu_output_0')!;
    expect(shared.for.map((f) => `${f.pattern}:${f.role}`).sort()).toEqual(['ConvBNAddReLU:residual', 'ConvBNReLU:input']);
    expect(new Set(j.quantStubs.map((s) => s.tensor)).size).toBe(16);

    // Weights: per output channel (axis 0), one scale per channel.
    expect(j.weightQuantizers).toHaveLength(16);
    for (const w of j.weightQuantizers) {
      expect(w.axis).toBe(0);
      expect(w.perChannel).toBe(true);
      expect(w.channels).toBe(w.shape[0]);
    }
    const stem = j.weightQuantizers.find((w) => w.tensor.startsWith('stem.0.weight'))!;
    expect(stem).toMatchObject({ shape: [32, 1, 3, 3], channels: 32, for: [{ pattern: 'ConvBNReLU', node: '/stem/stem.0/Conv' }] });
    expect(j.weightQuantizers.find((w) => w.tensor === 'fc.weight')).toMatchObject({ shape: [10, 128], axis: 0, channels: 10 });

    expect(j.unmatched).toEqual({ byOpType: { Flatten: 1 }, nodes: [{ name: '/Flatten', opType: 'Flatten' }] });
  });

  it('the readable form shows the same facts as tables', async () => {
    const r = await runCli(['inspect', RESNET_BN]);
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toContain('fmnist_resnet_bn.onnx: 54 nodes, backend tensorrt');
    expect(out).toContain('conversions: RemoveIdentity ×2, FoldBatchNorm ×15 → 37 nodes');
    expect(out).toMatch(/matches \(17\)/);
    expect(out).toMatch(/ConvBNReLU\s+7\s+input\s+yes/);
    expect(out).toMatch(/ConvBNAddReLU\s+6\s+input, residual\s+yes/);
    expect(out).toMatch(/GlobalAveragePool\s+1\s+— \(runs in float\)\s+no/);
    expect(out).toMatch(/QuantStub \(16\)/);
    expect(out).toMatch(/input\s+\(graph input\)\s+ConvBNReLU input @ \/stem\/stem\.2\/Relu/);
    expect(out).toMatch(/WeightFakeQuantize \(16\)/);
    expect(out).toMatch(/fc\.weight\s+\[10, 128\]\s+axis 0\s+10\s+Linear @ \/fc\/Gemm/);
    expect(out).toMatch(/unmatched \(1\)[^\n]*\n[^\n]*\n[^\n]*\n\s+Flatten\s+1\s+\/Flatten/);
  });

  it('MobileNet: depthwise convs matched but left in float', async () => {
    const r = await runCli(['inspect', MOBILENET_BN, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as InspectReport;
    const dw = j.patterns.find((p) => p.pattern === 'DepthwiseConv')!;
    expect(dw.count).toBe(5);
    expect(dw.qdqPoints).toEqual([]);
    const dwAnchors = new Set(j.matches.filter((m) => m.pattern === 'DepthwiseConv').map((m) => m.anchor));
    expect(j.quantStubs.some((s) => s.for.some((f) => dwAnchors.has(f.anchor)))).toBe(false);
  });

  it('bad input exits 2 with one line', async () => {
    const missing = await runCli(['inspect', 'no/such/model.onnx']);
    expect(missing.code).toBe(2);
    expect(errLines(missing)).toEqual([expect.stringMatching(/^qdeploy: .*no\/such\/model\.onnx: no such file$/)]);
    const text = await runCli(['inspect', 'package.json']);
    expect(text.code).toBe(2);
    expect(errLines(text)).toEqual([expect.stringMatching(/^qdeploy: .*package\.json: not a valid ONNX model/)]);
    const backend = await runCli(['inspect', RESNET_BN, '--backend', 'no-such-backend-pkg']);
    expect(backend.code).toBe(2);
    // Looked up by the naming convention (qdeploy-backend-…, @qdeploy/backend-…, as written); no `npm install <name>` guess.
    expect(errLines(backend)).toEqual([expect.stringMatching(/^qdeploy: unknown backend "no-such-backend-pkg" \(installed: [^)]*tensorrt[^)]*\): no package qdeploy-backend-no-such-backend-pkg, @qdeploy\/backend-no-such-backend-pkg or no-such-backend-pkg found from .*$/)]);
  });

  it('--explain says why nodes were left unmatched (a Sigmoid·x that is not a SiLU of a conv)', () => checkInspectExplain(seModel));
});
