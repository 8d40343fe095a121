import { describe, expect, it } from 'vitest';
import { DataType, explainMatch, insertQdq, loadModel, transform } from '@qdeploy/core';
import { buildEfficientNetB0Like, buildMobileNetV2Like, buildResNet18Like } from '@qdeploy/core/testing';
import { QConvAct, REFERENCE_PATTERNS, REFERENCE_QUANT_CONFIG, elemTypeOf } from '../src/index.js';
import { checkEfficientNetB0Counts, checkMobileNetV2Counts, checkReferenceCase, type ReferenceCase } from './reference-cases.js';
import { vendored } from './helpers.js';

// ResNet (fmnist): stem Conv+ReLU and 6 first convs of the basic blocks are QConvAct; 6 second convs
// and 2 1×1 shortcuts are QConv; 6 residual Add+ReLU; GAP; Flatten; the classifier Gemm.
// Stubs: image, 7 QConvAct outputs, 8 QConv outputs, 6 Add outputs, GAP output, Flatten output = 24.
const resnet = { matches: { QConvAct: 7, QConv: 8, QAddAct: 6, QUnary: 1, QDataMovement: 1, QLinear: 1 }, stubs: 24, weights: 16 };
// MobileNet (fmnist): 12 Conv+ReLU6 (stem, expansions, depthwise, last 1×1), 5 linear projections,
// 2 residual Adds (no activation), GAP, Flatten, Gemm. Stubs: image + 12 + 5 + 2 + GAP + Flatten = 22.
const mobilenet = { matches: { QConvAct: 12, QConv: 5, QAdd: 2, QUnary: 1, QDataMovement: 1, QLinear: 1 }, stubs: 22, weights: 18 };

const file = (name: string) => () => loadModel(vendored(name));

const CASES: Record<string, ReferenceCase> = {
  fmnist_resnet: { model: file('fmnist_resnet.onnx'), size: 28, channels: 1, ...resnet, conversions: {} },
  fmnist_resnet_bn: { model: file('fmnist_resnet_bn.onnx'), size: 28, channels: 1, ...resnet, conversions: { RemoveIdentity: 2, FoldBatchNorm: 15 } },
  fmnist_mobilenet: { model: file('fmnist_mobilenet.onnx'), size: 28, channels: 1, ...mobilenet, conversions: {} },
  fmnist_mobilenet_bn: { model: file('fmnist_mobilenet_bn.onnx'), size: 28, channels: 1, ...mobilenet, conversions: { FoldBatchNorm: 17 } },
  // torchvision ResNet-18, generated (@qdeploy/core/testing; the real export: reference-patterns.exports.test.ts):
  // 9 Conv+ReLU (stem + 8 block firsts), 11 QConv (8 block seconds + 3 downsamples), 8 Add+ReLU,
  // MaxPool and Flatten as data movement. Stubs: image, 9 + 11 + 8 outputs, MaxPool, GAP, Flatten = 32.
  resnet18_like: {
    model: () => buildResNet18Like(), size: 64, channels: 3,
    matches: { QConvAct: 9, QConv: 11, QAddAct: 8, QUnary: 1, QDataMovement: 2, QLinear: 1 }, conversions: { RemoveIdentity: 3, FoldBatchNorm: 20 }, stubs: 32, weights: 21,
  },
};

describe('REFERENCE_PATTERNS on whole networks', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: counts, FP32 equivalence, every quantized tensor read only through its DQ`, () => checkReferenceCase(c));
  }

  it('MobileNetV2 (generated): depthwise convs are quantized too', () => checkMobileNetV2Counts(buildMobileNetV2Like()));

  it('EfficientNet-B0 (generated): SiLU runs in float between DQ and Q so every conv can fuse', () => checkEfficientNetB0Counts(buildEfficientNetB0Like()));

  it('ViT: no quantizer on integer shape computations', () => {
    const { model, matches } = transform(loadModel(vendored('fmnist_vit_small.onnx')), { patterns: REFERENCE_PATTERNS });
    const q = insertQdq(model, matches, { config: REFERENCE_QUANT_CONFIG });
    expect(q.stubs().length).toBeGreaterThan(20);
    for (const s of q.stubs()) expect([DataType.FLOAT, null]).toContain(elemTypeOf(s.tensor));
    // Shape → Gather → Unsqueeze → Concat chains are int64 even without value_info.
    const shapeChain = model.graph.nodesOf('Unsqueeze').filter((n) => elemTypeOf(n.output(0)) === DataType.INT64);
    expect(shapeChain.length).toBeGreaterThan(0);
  });

  it('explains why a pattern does not match', () => {
    const { model } = transform(loadModel(vendored('fmnist_resnet.onnx')), { patterns: [] });
    const add = model.graph.nodesOf('Relu').find((n) => n.input(0)!.producer!.opType === 'Add')!;
    expect(explainMatch(QConvAct, add, model.graph)).toMatch(/QConvAct does not match at Relu .*Add .* is not Conv/);
  });
});
