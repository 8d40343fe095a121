// checkPlacement on what qdeploy exports, shared by the generated graphs (check-exports.test.ts)
// and the real PyTorch exports (check-exports.exports.test.ts).
import { expect } from 'vitest';
import { insertQdq, modelToBytes, transform, type Model, type PatternMatch } from '@qdeploy/core';
import { TENSORRT_PATTERNS } from '../src/index.js';
import { checkPlacement } from '../src/check/index.js';

/** Matches that quantize a conv / linear layer (an input QDQ point and a weight). */
export const quantizedLayerMatches = (matches: readonly PatternMatch[]) => matches.filter((m) => m.qdqPoints.length > 0 && m.pattern.weights.length > 0);

export function exportQdq(model: Model, weights: 'int8' | 'qdq' = 'int8'): { qdq: Model; matches: PatternMatch[] } {
  const t = transform(model, { patterns: TENSORRT_PATTERNS });
  return { qdq: insertQdq(t.model, t.matches).toExportModel({ quiet: true, weights }), matches: [...t.matches] };
}

export interface ExportCase {
  model: () => Model;
  int8Groups: number;
  floatLayers: number;
}

/** No error, no warning, one INT8 group per quantized conv/linear match. */
export function checkExportCase(c: ExportCase): void {
  const { qdq, matches } = exportQdq(c.model());
  const before = Buffer.from(modelToBytes(qdq));
  const report = checkPlacement(qdq);
  const { summary } = report;
  expect(report.findings.filter((f) => f.severity !== 'info')).toEqual([]);
  expect(summary.errors).toBe(0);
  expect(summary.warnings).toBe(0);
  expect(summary.int8Groups).toBe(quantizedLayerMatches(matches).length);
  expect(summary.int8Groups).toBe(c.int8Groups);
  expect(summary.floatLayers).toBe(c.floatLayers);
  expect(summary.byCode).toEqual({ 'int8-group': c.int8Groups, ...(c.floatLayers ? { 'float-layer': c.floatLayers } : {}) });
  // One weight DQ per INT8 group; every activation pair is a Q→DQ (one DQ per Q).
  expect(summary.weightDq).toBe(c.int8Groups);
  expect(summary.quantizeNodes).toBe(summary.qdqPairs);
  expect(summary.dequantizeNodes).toBe(summary.qdqPairs + summary.weightDq);
  // The checker reads, never writes.
  expect(Buffer.from(modelToBytes(qdq)).equals(before)).toBe(true);
}

/** What TensorRT fuses, per layer, on a ResNet-18 with torch.onnx's node names. */
export function checkResNet18Fusions(resnet18: Model): void {
  const report = checkPlacement(exportQdq(resnet18).qdq);
  const info = (node: string) => report.findings.find((f) => f.node === node)!;
  // Stem: Conv + ReLU, INT8 out (the Q after MaxPool moves back into the group).
  expect(info('/conv1/Conv').message).toMatch(/fused with Relu "\/relu\/Relu": INT8 input, INT8 per-channel weights, INT8 output/);
  // Second conv of a block: Conv + residual Add + ReLU with the skip input INT8.
  expect(info('/layer1/layer1.0/conv2/Conv').message).toMatch(/fused with Add "\/layer1\/layer1.0\/Add" \+ Relu "\/layer1\/layer1.0\/relu_1\/Relu"/);
  // Downsample shortcut: a bare conv whose INT8 output is the skip input of the Add.
  expect(info('/layer2/layer2.0/downsample/downsample.0/Conv').message).toMatch(/INT8 Conv "[^"]+": INT8 input, INT8 per-channel weights, INT8 output$/);
  // The last block feeds GAP in float.
  expect(info('/layer4/layer4.1/conv2/Conv').message).toMatch(/FP16\/FP32 output$/);
  expect(info('/fc/Gemm').severity).toBe('info');
}
