// TENSORRT_PATTERNS on the real torchvision exports (../shared/fixtures, 224×224).
import { describe, it } from 'vitest';
import { loadModel } from '@qdeploy/core';
import { checkPatternCase, checkResidualStubs, type PatternCase } from './pattern-checks.js';
import { shared } from './helpers.js';

const CASES: Record<string, PatternCase> = {
  // ResNet-18: 1 stem, 8 basic blocks = 8 ConvBNReLU (first conv) + 8 ConvBNAddReLU (second conv + Add + ReLU),
  // 3 downsample shortcuts (1x1 ConvBN), GAP, FC.
  resnet18_bn: {
    model: () => loadModel(shared('resnet18_bn.onnx')), size: 224, channels: 3,
    matches: { Stem: 1, ConvBNReLU: 8, ConvBNAddReLU: 8, ConvBN: 3, GlobalAveragePool: 1, Linear: 1 },
    conversions: { FoldBatchNorm: 20 },
    // Stubs: image, the 8 block inputs feeding conv1 (shared with the shortcut conv where present),
    // 8 conv1 outputs, 8 residuals (3 of them shortcut conv outputs, 5 block inputs already stubbed), GAP output.
    stubs: 1 + 8 + 8 + 3 + 1,
    weights: 21,
  },
  // MobileNetV2: 17 depthwise (unquantized), 18 ConvBNReLU (stem, 16 expansions, last 1x1),
  // 17 projections: 10 with a residual Add, 7 without.
  mobilenet_v2_bn: {
    model: () => loadModel(shared('mobilenet_v2_bn.onnx')), size: 224, channels: 3,
    matches: { ConvBNReLU: 18, DepthwiseConv: 17, ConvBN: 7, ConvBNAdd: 10, GlobalAveragePool: 1, Linear: 1 },
    conversions: { FoldBatchNorm: 52 },
    stubs: 0, weights: 36,
  },
  // EfficientNet-B0: 16 MBConv blocks with SiLU; squeeze-excitation adds GAP → 1x1 conv (SiLU) → 1x1 conv → Sigmoid.
  efficientnet_b0_bn: {
    model: () => loadModel(shared('efficientnet_b0_bn.onnx')), size: 224, channels: 3,
    matches: { ConvBNReLU: 33, DepthwiseConv: 16, GlobalAveragePool: 17, ConvBN: 23, ConvBNAdd: 9, Linear: 1 },
    conversions: { RemoveIdentity: 18, FoldBatchNorm: 49 },
    stubs: 0, weights: 66,
  },
};

describe('TENSORRT_PATTERNS on the real torchvision exports', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: counts, FP32 equivalence, QDQ export runs`, () => checkPatternCase(c));
  }

  it('places stubs where TensorRT wants them in a residual block', () => checkResidualStubs(loadModel(shared('resnet18_bn.onnx'))));
});
