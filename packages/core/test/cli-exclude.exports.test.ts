// Exclusion by each rule kind on the torchvision ResNet-18 and the YOLO-style detector
// (shared fixtures), through the CLI: quantize with the flag, then `qdeploy check` on the
// result: what stays quantized still fuses (no error, no warning, one INT8 group per kept
// conv / linear match), and what was excluded has no Q/DQ of its own.
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CheckReport, InspectReport } from '../src/cli/pipeline/index.js';
import { makeTmp, requireBuilt, runCli } from './fixtures/cli/helpers.js';
import { shared } from './helpers/fixtures.js';

beforeAll(() => requireBuilt());

const CASES: Record<string, { file: string; rules: [kind: string, flags: string[]][] }> = {
  resnet18_bn: {
    file: 'resnet18_bn.onnx',
    rules: [
      ['node', ['--exclude-nodes', '/layer2/layer2.0/conv1/Conv']],
      ['node', ['--nodes_to_exclude', '/^\\/layer4\\//']],
      ['opType', ['--op_types_to_exclude', 'Gemm']],
      ['pattern', ['--exclude-patterns', 'ConvBNAddReLU']],
      ['match', ['--exclude-matches', '/layer3/layer3.0/relu_1/Relu']],
    ],
  },
  yolov8n_like_bn: {
    file: 'yolov8n_like_bn.onnx',
    rules: [
      ['node', ['--exclude-nodes', '/b2/m.0/a/a.0/Conv']],
      ['node', ['--exclude-nodes', '/^\\/heads\\.\\d+\\/cls\\//']],
      ['opType', ['--exclude-op-types', 'Sigmoid']],
      ['pattern', ['--exclude-patterns', 'ActivationAdd']],
      ['match', ['--exclude-matches', '/n1/cv1/cv1.2/Mul']],
    ],
  },
};

describe('exclusion on the shared fixtures, checked by qdeploy check', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: every rule kind`, async () => {
      const model = shared(c.file);
      const dir = makeTmp(`qdeploy-exclude-${name}-`);
      const full = JSON.parse((await runCli(['inspect', model, '--json'])).stdout) as InspectReport;
      const weighted = new Set(full.patterns.filter((p) => p.qdqPoints.length && p.weights).map((p) => p.pattern));
      const layers = full.matches.filter((m) => weighted.has(m.pattern));
      for (const [i, [kind, flags]] of c.rules.entries()) {
        const i1 = JSON.parse((await runCli(['inspect', model, '--json', ...flags])).stdout) as InspectReport;
        expect(i1.excluded.length, flags.join(' ')).toBeGreaterThan(0);
        expect(i1.excluded.length).toBeLessThan(full.matches.length);
        expect(i1.excluded.every((e) => e.rule.kind === kind)).toBe(true);
        expect(i1.unusedExcludeRules).toEqual([]);
        const excluded = new Set(i1.excluded.map((e) => e.id));
        // No quantizer asked for by an excluded match; every other match's are still there.
        expect(i1.quantStubs.flatMap((s) => s.for).some((f) => excluded.has(f.anchor))).toBe(false);
        expect(i1.weightQuantizers.flatMap((w) => w.for).some((f) => excluded.has(f.anchor))).toBe(false);
        const keptLayers = layers.filter((m) => !excluded.has(m.anchor));
        expect(i1.counts.WeightFakeQuantize).toBe(keptLayers.length);

        const out = path.join(dir, `m${i}.onnx`);
        const q = await runCli(['quantize', model, '-o', out, '--no-calib', ...flags]);
        expect(q.code, q.stderr).toBe(0);
        const r = await runCli(['check', out, '--json']);
        expect(r.code).toBe(0);
        const report = JSON.parse(r.stdout) as CheckReport;
        expect(report.counts.error, flags.join(' ')).toBe(0);
        expect(report.counts.warning, JSON.stringify(report.findings.filter((f) => f.severity === 'warning').slice(0, 2))).toBe(0);
        expect(report.findings.filter((f) => f.code === 'int8-group')).toHaveLength(keptLayers.length);
      }
    });
  }
});
