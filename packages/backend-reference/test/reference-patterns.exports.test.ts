// REFERENCE_PATTERNS on the real torchvision exports (../shared/fixtures, 224×224).
import { describe, it } from 'vitest';
import { loadModel } from '@qdeploy/core';
import { checkEfficientNetB0Counts, checkMobileNetV2Counts, checkReferenceCase } from './reference-cases.js';
import { shared } from './helpers.js';

describe('REFERENCE_PATTERNS on the real torchvision exports', () => {
  // 9 Conv+ReLU (stem + 8 block firsts), 11 QConv (8 block seconds + 3 downsamples), 8 Add+ReLU,
  // MaxPool and Flatten as data movement. Stubs: image, 9 + 11 + 8 outputs, MaxPool, GAP, Flatten = 32.
  it('resnet18_bn: counts, FP32 equivalence, every quantized tensor read only through its DQ', () => checkReferenceCase({
    model: () => loadModel(shared('resnet18_bn.onnx')), size: 224, channels: 3,
    matches: { QConvAct: 9, QConv: 11, QAddAct: 8, QUnary: 1, QDataMovement: 2, QLinear: 1 }, conversions: { FoldBatchNorm: 20 }, stubs: 32, weights: 21,
  }));

  it('MobileNetV2: depthwise convs are quantized too', () => checkMobileNetV2Counts(loadModel(shared('mobilenet_v2_bn.onnx'))));

  it('EfficientNet-B0: SiLU runs in float between DQ and Q so every conv can fuse', () => checkEfficientNetB0Counts(loadModel(shared('efficientnet_b0_bn.onnx'))));
});
