// checkPlacement on the uniform placement (Q/DQ on every op input), shared by the generated
// graphs (check-uniform.test.ts) and the real PyTorch exports (check-uniform.exports.test.ts).
import { expect } from 'vitest';
import { transform, type Model } from '@qdeploy/core';
import { TENSORRT_PATTERNS } from '../src/index.js';
import { checkPlacement } from '../src/check/index.js';
import { uniformQdq } from './fixtures/check/builders.js';

/**
 * The placement of tools that quantize uniformly (onnxruntime's quantize_static in QDQ
 * format and the like): a Q/DQ pair on every activation any op reads, and every weight as
 * int8 → DQ. Built on the BN-folded model (what those tools quantize after their own
 * pre-processing) and on the raw export with its BatchNormalization nodes.
 */
export const folded = (model: Model): Model => transform(model, { patterns: TENSORRT_PATTERNS }).model;

export interface UniformCase {
  model: () => Model;
  expect: { byCode: Record<string, number>; int8Groups: number; qdqPairs: number; errors: number; warnings: number };
}

/** Reports each broken fusion. */
export function checkUniformCase(c: UniformCase): void {
  const report = checkPlacement(uniformQdq(c.model()));
  const { summary } = report;
  expect(summary.byCode).toEqual(c.expect.byCode);
  expect(summary.int8Groups).toBe(c.expect.int8Groups);
  expect(summary.qdqPairs).toBe(c.expect.qdqPairs);
  expect(summary.errors).toBe(c.expect.errors);
  expect(summary.warnings).toBe(c.expect.warnings);
  // Every finding names a node of the model.
  for (const f of report.findings) expect(f.node).toBeTruthy();
}

/** Names the Q/DQ to remove and the fusion it breaks, on a ResNet-18 with torch.onnx's node names. */
export function checkResNet18Uniform(resnet18: Model): void {
  const report = checkPlacement(uniformQdq(folded(resnet18)));
  const at = (node: string) => report.findings.filter((f) => f.node === node).map((f) => f.code);
  expect(at('/layer1/layer1.0/conv1/Conv_output_0_Q')).toEqual(['qdq-before-activation']);
  expect(at('/layer1/layer1.0/conv2/Conv_output_0_Q')).toEqual(['qdq-on-conv-branch']);
  expect(at('/layer1/layer1.0/Add_output_0_Q')).toEqual(['qdq-before-activation']);
  // Downsample block: the shortcut conv's output is the skip input — quantizing it is right.
  expect(at('/layer2/layer2.0/downsample/downsample.0/Conv_output_0_Q')).toEqual([]);
  expect(at('/layer2/layer2.0/conv2/Conv_output_0_Q')).toEqual(['qdq-on-conv-branch']);
  const branch = report.findings.find((f) => f.node === '/layer2/layer2.0/conv2/Conv_output_0_Q')!;
  expect(branch.message).toContain('quantize the skip input "/layer2/layer2.0/downsample/downsample.0/Conv_output_0"');
  // MaxPool commutes with Q/DQ: the stem's Relu→Q/DQ→MaxPool is no finding.
  expect(at('/relu/Relu_output_0_Q')).toEqual([]);
}
