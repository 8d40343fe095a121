import { describe, expect, it } from 'vitest';
import { insertQdq, loadModel, transform } from '@qdeploy/core';
import { buildEfficientNetB0Like, buildMobileNetV2Like, buildResNet18Like } from '@qdeploy/core/testing';
import { TENSORRT_PATTERNS } from '../src/index.js';
import { checkPatternCase, checkResidualStubs, type PatternCase } from './pattern-checks.js';
import { vendored } from './helpers.js';

// The torchvision networks generated at 1/4 width and 64×64 (@qdeploy/core/testing): the same blocks,
// so the same counts as the real exports (tensorrt-patterns.exports.test.ts), plus each generator's
// Identity-routed parameters.
const CASES: Record<string, PatternCase> = {
  // ResNet-18: 1 stem, 8 basic blocks = 8 ConvBNReLU (first conv) + 8 ConvBNAddReLU (second conv + Add + ReLU),
  // 3 downsample shortcuts (1x1 ConvBN, their BN bias behind an Identity), GAP, FC.
  resnet18_like: {
    model: () => buildResNet18Like(), size: 64, channels: 3,
    matches: { Stem: 1, ConvBNReLU: 8, ConvBNAddReLU: 8, ConvBN: 3, GlobalAveragePool: 1, Linear: 1 },
    conversions: { RemoveIdentity: 3, FoldBatchNorm: 20 },
    // Stubs: image, the 8 block inputs feeding conv1 (shared with the shortcut conv where present),
    // 8 conv1 outputs, 8 residuals (3 of them shortcut conv outputs, 5 block inputs already stubbed), GAP output.
    stubs: 1 + 8 + 8 + 3 + 1,
    weights: 21,
  },
  // MobileNetV2: 17 depthwise (unquantized), 18 ConvBNReLU (stem, 16 expansions, last 1x1),
  // 17 projections: 10 with a residual Add (their BN statistics in Constant nodes), 7 without.
  mobilenet_v2_like: {
    model: () => buildMobileNetV2Like(), size: 64, channels: 3,
    matches: { ConvBNReLU: 18, DepthwiseConv: 17, ConvBN: 7, ConvBNAdd: 10, GlobalAveragePool: 1, Linear: 1 },
    conversions: { FoldBatchNorm: 52 },
    stubs: 0, weights: 36,
  },
  // EfficientNet-B0: 16 MBConv blocks with SiLU; squeeze-excitation adds GAP → 1x1 conv (SiLU) → 1x1 conv → Sigmoid.
  efficientnet_b0_like: {
    model: () => buildEfficientNetB0Like(), size: 64, channels: 3,
    matches: { ConvBNReLU: 33, DepthwiseConv: 16, GlobalAveragePool: 17, ConvBN: 23, ConvBNAdd: 9, Linear: 1 },
    conversions: { RemoveIdentity: 18, FoldBatchNorm: 49 },
    stubs: 0, weights: 66,
  },
  fmnist_resnet_bn: {
    model: () => loadModel(vendored('fmnist_resnet_bn.onnx')), size: 28, channels: 1,
    matches: { ConvBNReLU: 7, ConvBNAddReLU: 6, ConvBN: 2, GlobalAveragePool: 1, Linear: 1 },
    conversions: { RemoveIdentity: 2, FoldBatchNorm: 15 },
    stubs: 0, weights: 16,
  },
  fmnist_mobilenet_bn: {
    model: () => loadModel(vendored('fmnist_mobilenet_bn.onnx')), size: 28, channels: 1,
    matches: { ConvBNReLU: 7, DepthwiseConv: 5, ConvBN: 3, ConvBNAdd: 2, GlobalAveragePool: 1, Linear: 1 },
    conversions: { FoldBatchNorm: 17 },
    stubs: 0, weights: 13,
  },
};

describe('TENSORRT_PATTERNS on whole networks', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: counts, FP32 equivalence, QDQ export runs`, () => checkPatternCase(c));
  }

  it('places stubs where TensorRT wants them in a residual block', () => checkResidualStubs(buildResNet18Like()));

  it('writes per-channel int8 weights that dequantize back within half a step', async () => {
    const { model, matches } = transform(loadModel(vendored('fmnist_resnet.onnx')), { patterns: TENSORRT_PATTERNS });
    const q = insertQdq(model, matches);
    const qdq = q.toExportModel({ quiet: true });
    for (const wq of q.weightQuantizers()) {
      const w = wq.tensor.constant()!.toFloat32();
      const ints = qdq.graph.value(`${wq.tensor.name}_quantized`)!.initializer!.data() as Int8Array;
      const inner = w.length / wq.scale.length;
      for (let i = 0; i < w.length; i += 7) {
        const s = wq.scale[Math.floor(i / inner)]!;
        expect(Math.abs(ints[i]! * s - w[i]!)).toBeLessThanOrEqual(s / 2 + 1e-7);
      }
    }
  });
});
