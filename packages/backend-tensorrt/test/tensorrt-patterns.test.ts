import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { countMatches, insertQdq, loadModel, modelToBytes, transform, validateModel, QuantStub, WeightFakeQuantize } from '@qdeploy/core';
import { TENSORRT_PATTERNS } from '../src/index.js';
import { maxRelativeError, randomInput, runModel, shared, vendored } from './helpers.js';

interface Case {
  file: () => string;
  size: number;
  channels: number;
  matches: Record<string, number>;
  conversions: Record<string, number>;
  stubs: number;
  weights: number;
}

const CASES: Record<string, Case> = {
  // ResNet-18: 1 stem, 8 basic blocks = 8 ConvBNReLU (first conv) + 8 ConvBNAddReLU (second conv + Add + ReLU),
  // 3 downsample shortcuts (1x1 ConvBN), GAP, FC.
  resnet18_bn: {
    file: () => shared('resnet18_bn.onnx'), size: 224, channels: 3,
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
    file: () => shared('mobilenet_v2_bn.onnx'), size: 224, channels: 3,
    matches: { ConvBNReLU: 18, DepthwiseConv: 17, ConvBN: 7, ConvBNAdd: 10, GlobalAveragePool: 1, Linear: 1 },
    conversions: { FoldBatchNorm: 52 },
    stubs: 0, weights: 36,
  },
  // EfficientNet-B0: 16 MBConv blocks with SiLU; squeeze-excitation adds GAP → 1x1 conv (SiLU) → 1x1 conv → Sigmoid.
  efficientnet_b0_bn: {
    file: () => shared('efficientnet_b0_bn.onnx'), size: 224, channels: 3,
    matches: { ConvBNReLU: 33, DepthwiseConv: 16, GlobalAveragePool: 17, ConvBN: 23, ConvBNAdd: 9, Linear: 1 },
    conversions: { RemoveIdentity: 18, FoldBatchNorm: 49 },
    stubs: 0, weights: 66,
  },
  fmnist_resnet_bn: {
    file: () => vendored('fmnist_resnet_bn.onnx'), size: 28, channels: 1,
    matches: { ConvBNReLU: 7, ConvBNAddReLU: 6, ConvBN: 2, GlobalAveragePool: 1, Linear: 1 },
    conversions: { RemoveIdentity: 2, FoldBatchNorm: 15 },
    stubs: 0, weights: 16,
  },
  fmnist_mobilenet_bn: {
    file: () => vendored('fmnist_mobilenet_bn.onnx'), size: 28, channels: 1,
    matches: { ConvBNReLU: 7, DepthwiseConv: 5, ConvBN: 3, ConvBNAdd: 2, GlobalAveragePool: 1, Linear: 1 },
    conversions: { FoldBatchNorm: 17 },
    stubs: 0, weights: 13,
  },
};

describe('TENSORRT_PATTERNS on real exports', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: counts, FP32 equivalence, QDQ export runs`, async () => {
      const original = loadModel(c.file());
      const before = modelToBytes(original);
      const { model, matches, conversions } = transform(original, { patterns: TENSORRT_PATTERNS });
      expect(countMatches(matches)).toEqual(c.matches);
      expect(conversions).toEqual(c.conversions);
      // The input model object is untouched.
      expect(Buffer.from(modelToBytes(original)).equals(Buffer.from(before))).toBe(true);
      expect(model.graph.nodesOf('BatchNormalization')).toHaveLength(0);

      const dims = [2, c.channels, c.size, c.size];
      const feeds = { input: new ort.Tensor('float32', randomInput(dims), dims) };
      const ref = await runModel(original, feeds);
      const got = await runModel(model, feeds);
      expect(maxRelativeError(ref.logits!, got.logits!)).toBeLessThanOrEqual(1e-4);

      const q = insertQdq(model, matches);
      const counts = q.counts();
      if (c.stubs) expect(counts.QuantStub).toBe(c.stubs);
      expect(counts.WeightFakeQuantize).toBe(c.weights);
      // Every quantizer belongs to a match that declared it.
      for (const qz of q.quantizers()) expect(qz.matches.length).toBeGreaterThan(0);
      // No quantizer inside a fusion group: stubs only on a match's declared inputs.
      for (const s of q.stubs()) for (const m of s.matches) expect(m.nodes).not.toContain(s.tensor.producer);

      const qdq = q.toExportModel({ quiet: true });
      const ops = qdq.graph.opCounts();
      expect(ops.QuantizeLinear).toBe(counts.QuantStub);
      expect(ops.DequantizeLinear).toBe(counts.QuantStub + counts.WeightFakeQuantize);
      expect(qdq.graph.inputs[0]!.shape![0]).toBe('batch');
      expect(validateModel(model)).toEqual([]);
      expect(validateModel(qdq)).toEqual([]);
      const out = await runModel(qdq, feeds);
      expect(out.logits!.length).toBe(ref.logits!.length);
      expect(out.logits!.every(Number.isFinite)).toBe(true);
    });
  }

  it('places stubs where TensorRT wants them in a residual block', () => {
    const { model, matches } = transform(loadModel(shared('resnet18_bn.onnx')), { patterns: TENSORRT_PATTERNS });
    const q = insertQdq(model, matches);
    const residual = matches.filter((m) => m.pattern.name === 'ConvBNAddReLU');
    for (const m of residual) {
      const add = m.captured.add!;
      // Both inputs of the Add: one is produced inside the group (the conv branch), the other is the stubbed residual.
      const res = m.roles.residual!;
      expect(add.inputs).toContain(res);
      const stub = q.stubs().find((s) => s.tensor === res)!;
      expect(stub).toBeInstanceOf(QuantStub);
      expect(stub.uses.some((u) => u.node === add)).toBe(true);
    }
    // Depthwise and pooling matches get nothing.
    const gap = matches.find((m) => m.pattern.name === 'GlobalAveragePool')!;
    expect(q.quantizersOf(gap)).toEqual([]);
    const fc = q.weightQuantizers().find((w) => w.matches[0]!.pattern.name === 'Linear')!;
    expect(fc).toBeInstanceOf(WeightFakeQuantize);
    expect(fc.axis).toBe(0); // Gemm transB=1
    expect(fc.scale.length).toBe(1000);
  });

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
