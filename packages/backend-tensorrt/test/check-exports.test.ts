import { describe, expect, it } from 'vitest';
import { loadModel } from '@qdeploy/core';
import { buildEfficientNetB0Like, buildMobileNetV2Like, buildResNet18Like } from '@qdeploy/core/testing';
import { checkPlacement, formatCheckReport } from '../src/check/index.js';
import { checkExportCase, checkResNet18Fusions, exportQdq, quantizedLayerMatches } from './check-export-cases.js';
import { vendored } from './helpers.js';

const file = (name: string) => () => loadModel(vendored(name));

// The torchvision networks are generated (@qdeploy/core/testing) with the real exports' blocks:
// check-exports.exports.test.ts expects the same numbers from the real ones.
const CASES = {
  // 7 ConvBNReLU + 6 ConvBNAddReLU + 2 ConvBN shortcuts + 1 Linear.
  fmnist_resnet_bn: { model: file('fmnist_resnet_bn.onnx'), int8Groups: 16, floatLayers: 0 },
  // 7 ConvBNReLU + 3 ConvBN + 2 ConvBNAdd + 1 Linear; the 5 depthwise convs stay float.
  fmnist_mobilenet_bn: { model: file('fmnist_mobilenet_bn.onnx'), int8Groups: 13, floatLayers: 5 },
  // Stem + 8 ConvBNReLU + 8 ConvBNAddReLU + 3 downsample ConvBN + 1 Linear.
  resnet18_like: { model: () => buildResNet18Like(), int8Groups: 21, floatLayers: 0 },
  // 18 ConvBNReLU + 7 ConvBN + 10 ConvBNAdd + 1 Linear; 17 depthwise convs stay float.
  mobilenet_v2_like: { model: () => buildMobileNetV2Like(), int8Groups: 36, floatLayers: 17 },
  // SiLU everywhere, squeeze-excitation convs: 33 ConvBNReLU + 23 ConvBN + 9 ConvBNAdd + 1 Linear; 16 depthwise float.
  efficientnet_b0_like: { model: () => buildEfficientNetB0Like(), int8Groups: 66, floatLayers: 16 },
};

describe('checkPlacement on the QDQ models qdeploy exports', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: no error, no warning, one INT8 group per quantized conv/linear match`, () => checkExportCase(c));
  }

  it('fmnist_vit_small: no error, no warning (attention MatMuls quantized on both sides, LayerNorm left float)', () => {
    const { qdq, matches } = exportQdq(loadModel(vendored('fmnist_vit_small.onnx')));
    const { summary } = checkPlacement(qdq);
    expect(summary.errors).toBe(0);
    expect(summary.warnings).toBe(0);
    expect(summary.int8Groups).toBe(quantizedLayerMatches(matches).length);
  });

  it('reads float weights behind Q→DQ (export weights: "qdq") the same as int8 initializers', () => {
    const a = checkPlacement(exportQdq(loadModel(vendored('fmnist_resnet_bn.onnx')), 'int8').qdq);
    const b = checkPlacement(exportQdq(loadModel(vendored('fmnist_resnet_bn.onnx')), 'qdq').qdq);
    expect(b.findings).toEqual(a.findings);
    expect(b.summary.int8Groups).toBe(16);
    expect(b.summary.weightDq).toBe(16);
    expect(b.summary.quantizeNodes).toBe(a.summary.quantizeNodes + 16);
  });

  it('says, per layer, what TensorRT fuses on ResNet-18', () => checkResNet18Fusions(buildResNet18Like()));

  it('formats the report as a text table and as JSON', () => {
    const report = checkPlacement(exportQdq(loadModel(vendored('fmnist_mobilenet_bn.onnx'))).qdq);
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
