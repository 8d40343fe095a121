import { describe, expect, it } from 'vitest';
import { insertQdq, loadModel, modelToBytes, transform, type Model, type PatternMatch } from '@qdeploy/core';
import { TENSORRT_PATTERNS } from '../src/index.js';
import { checkPlacement, formatCheckReport } from '../src/check/index.js';
import { shared, vendored } from './helpers.js';

/** Matches that quantize a conv / linear layer (an input QDQ point and a weight). */
const quantizedLayerMatches = (matches: readonly PatternMatch[]) => matches.filter((m) => m.qdqPoints.length > 0 && m.pattern.weights.length > 0);

function exportQdq(file: string, weights: 'int8' | 'qdq' = 'int8'): { qdq: Model; matches: PatternMatch[] } {
  const { model, matches } = transform(loadModel(file), { patterns: TENSORRT_PATTERNS });
  return { qdq: insertQdq(model, matches).toExportModel({ quiet: true, weights }), matches: [...matches] };
}

const CASES = {
  // 7 ConvBNReLU + 6 ConvBNAddReLU + 2 ConvBN shortcuts + 1 Linear.
  fmnist_resnet_bn: { file: () => vendored('fmnist_resnet_bn.onnx'), int8Groups: 16, floatLayers: 0 },
  // 7 ConvBNReLU + 3 ConvBN + 2 ConvBNAdd + 1 Linear; the 5 depthwise convs stay float.
  fmnist_mobilenet_bn: { file: () => vendored('fmnist_mobilenet_bn.onnx'), int8Groups: 13, floatLayers: 5 },
  // Stem + 8 ConvBNReLU + 8 ConvBNAddReLU + 3 downsample ConvBN + 1 Linear.
  resnet18_bn: { file: () => shared('resnet18_bn.onnx'), int8Groups: 21, floatLayers: 0 },
  // 18 ConvBNReLU + 7 ConvBN + 10 ConvBNAdd + 1 Linear; 17 depthwise convs stay float.
  mobilenet_v2_bn: { file: () => shared('mobilenet_v2_bn.onnx'), int8Groups: 36, floatLayers: 17 },
  // SiLU everywhere, squeeze-excitation convs: 33 ConvBNReLU + 23 ConvBN + 9 ConvBNAdd + 1 Linear; 16 depthwise float.
  efficientnet_b0_bn: { file: () => shared('efficientnet_b0_bn.onnx'), int8Groups: 66, floatLayers: 16 },
};

describe('checkPlacement on the QDQ models qdeploy exports', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: no error, no warning, one INT8 group per quantized conv/linear match`, () => {
      const { qdq, matches } = exportQdq(c.file());
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
    });
  }

  it('fmnist_vit_small: no error, no warning (attention MatMuls quantized on both sides, LayerNorm left float)', () => {
    const { qdq, matches } = exportQdq(vendored('fmnist_vit_small.onnx'));
    const { summary } = checkPlacement(qdq);
    expect(summary.errors).toBe(0);
    expect(summary.warnings).toBe(0);
    expect(summary.int8Groups).toBe(quantizedLayerMatches(matches).length);
  });

  it('reads float weights behind Q→DQ (export weights: "qdq") the same as int8 initializers', () => {
    const a = checkPlacement(exportQdq(vendored('fmnist_resnet_bn.onnx'), 'int8').qdq);
    const b = checkPlacement(exportQdq(vendored('fmnist_resnet_bn.onnx'), 'qdq').qdq);
    expect(b.findings).toEqual(a.findings);
    expect(b.summary.int8Groups).toBe(16);
    expect(b.summary.weightDq).toBe(16);
    expect(b.summary.quantizeNodes).toBe(a.summary.quantizeNodes + 16);
  });

  it('says, per layer, what TensorRT fuses on ResNet-18', () => {
    const report = checkPlacement(exportQdq(shared('resnet18_bn.onnx')).qdq);
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
  });

  it('formats the report as a text table and as JSON', () => {
    const report = checkPlacement(exportQdq(vendored('fmnist_mobilenet_bn.onnx')).qdq);
    const text = formatCheckReport(report);
    const lines = text.split('\n');
    expect(lines[0]).toBe('TensorRT QDQ placement check: 13 INT8 groups, 5 float layers, 13 activation Q/DQ pairs, 13 quantized weights, opset 17');
    expect(lines[1]).toBe('0 errors, 0 warnings, 18 info');
    expect(lines[3]).toMatch(/^SEVERITY\s+CODE\s+NODE\s+MESSAGE$/);
    expect(lines).toHaveLength(4 + 18);
    expect(text).toMatch(/float-layer\s+\/f\/f\.3\/b\/b\.3\/Conv\s+Conv "\/f\/f\.3\/b\/b\.3\/Conv" runs in FP16\/FP32 .*depthwise, as recommended/);
    // Only the summary when nothing reaches the threshold.
    expect(formatCheckReport(report, { minSeverity: 'warning' }).split('\n')).toHaveLength(2);
    const json = JSON.parse(formatCheckReport(report, { json: true }));
    expect(json.summary).toEqual(report.summary);
    expect(json.findings).toHaveLength(18);
    expect(JSON.parse(formatCheckReport(report, { json: true, minSeverity: 'warning' })).findings).toEqual([]);
  });
});
