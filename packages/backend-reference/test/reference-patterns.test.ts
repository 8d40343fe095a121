import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { DataType, countMatches, explainMatch, insertQdq, loadModel, transform } from '@qdeploy/core';
import { QConvAct, REFERENCE_PATTERNS, REFERENCE_QUANT_CONFIG, elemTypeOf, referenceBackend } from '../src/index.js';
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

// ResNet (fmnist): stem Conv+ReLU and 6 first convs of the basic blocks are QConvAct; 6 second convs
// and 2 1×1 shortcuts are QConv; 6 residual Add+ReLU; GAP; Flatten; the classifier Gemm.
// Stubs: image, 7 QConvAct outputs, 8 QConv outputs, 6 Add outputs, GAP output, Flatten output = 24.
const resnet = { matches: { QConvAct: 7, QConv: 8, QAddAct: 6, QUnary: 1, QDataMovement: 1, QLinear: 1 }, stubs: 24, weights: 16 };
// MobileNet (fmnist): 12 Conv+ReLU6 (stem, expansions, depthwise, last 1×1), 5 linear projections,
// 2 residual Adds (no activation), GAP, Flatten, Gemm. Stubs: image + 12 + 5 + 2 + GAP + Flatten = 22.
const mobilenet = { matches: { QConvAct: 12, QConv: 5, QAdd: 2, QUnary: 1, QDataMovement: 1, QLinear: 1 }, stubs: 22, weights: 18 };

const CASES: Record<string, Case> = {
  fmnist_resnet: { file: () => vendored('fmnist_resnet.onnx'), size: 28, channels: 1, ...resnet, conversions: {} },
  fmnist_resnet_bn: { file: () => vendored('fmnist_resnet_bn.onnx'), size: 28, channels: 1, ...resnet, conversions: { RemoveIdentity: 2, FoldBatchNorm: 15 } },
  fmnist_mobilenet: { file: () => vendored('fmnist_mobilenet.onnx'), size: 28, channels: 1, ...mobilenet, conversions: {} },
  fmnist_mobilenet_bn: { file: () => vendored('fmnist_mobilenet_bn.onnx'), size: 28, channels: 1, ...mobilenet, conversions: { FoldBatchNorm: 17 } },
  // torchvision ResNet-18: 9 Conv+ReLU (stem + 8 block firsts), 11 QConv (8 block seconds + 3 downsamples), 8 Add+ReLU,
  // MaxPool and Flatten as data movement. Stubs: image, 9 + 11 + 8 outputs, MaxPool, GAP, Flatten = 32.
  resnet18_bn: {
    file: () => shared('resnet18_bn.onnx'), size: 224, channels: 3,
    matches: { QConvAct: 9, QConv: 11, QAddAct: 8, QUnary: 1, QDataMovement: 2, QLinear: 1 }, conversions: { FoldBatchNorm: 20 }, stubs: 32, weights: 21,
  },
};

describe('REFERENCE_PATTERNS on real exports', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: counts, FP32 equivalence, every quantized tensor read only through its DQ`, async () => {
      const original = loadModel(c.file());
      const { model, matches, conversions, unmatched } = transform(original, { patterns: REFERENCE_PATTERNS });
      expect(countMatches(matches)).toEqual(c.matches);
      expect(conversions).toEqual(c.conversions);
      // Every compute node belongs to a group (Constant nodes feeding Clip bounds aside).
      expect(unmatched.filter((n) => n.opType !== 'Constant')).toEqual([]);

      const dims = [2, c.channels, c.size, c.size];
      const feeds = { input: new ort.Tensor('float32', randomInput(dims), dims) };
      const ref = await runModel(original, feeds);
      const got = await runModel(model, feeds);
      expect(maxRelativeError(ref.logits!, got.logits!)).toBeLessThanOrEqual(1e-4);

      const q = insertQdq(model, matches, { config: referenceBackend.quantConfig });
      expect(q.counts()).toEqual({ QuantStub: c.stubs, WeightFakeQuantize: c.weights });
      const qdq = q.toExportModel({ quiet: true });
      const g = qdq.graph;
      const quantizes = g.nodesOf('QuantizeLinear');
      expect(quantizes).toHaveLength(c.stubs);
      for (const qn of quantizes) {
        // Asymmetric uint8 activations (zero point type), and no float reader left beside the Q:
        // onnxruntime fuses a group only when its output goes to QuantizeLinear alone.
        expect(qn.input(2)!.elemType).toBe(DataType.UINT8);
        expect(qn.input(0)!.consumers.map((n) => n.opType)).toEqual(['QuantizeLinear']);
      }
      // Weights: int8, per output channel.
      for (const w of q.weightQuantizers()) {
        expect(w.config.symmetric).toBe(true);
        expect(w.scale.length).toBe(w.tensor.constant()!.dims[w.axis!]);
      }
    });
  }

  it('MobileNetV2 (torchvision): depthwise convs are quantized too', () => {
    const { matches } = transform(loadModel(shared('mobilenet_v2_bn.onnx')), { patterns: REFERENCE_PATTERNS });
    expect(countMatches(matches)).toEqual({ QConvAct: 35, QConv: 17, QAdd: 10, QUnary: 1, QDataMovement: 1, QLinear: 1 });
    const depthwise = matches.filter((m) => m.captured.conv && Number(m.captured.conv.attr('group', 1)) > 1);
    expect(depthwise).toHaveLength(17);
  });

  it('EfficientNet-B0: SiLU runs in float between DQ and Q so every conv can fuse', () => {
    const { matches } = transform(loadModel(shared('efficientnet_b0_bn.onnx')), { patterns: REFERENCE_PATTERNS });
    const counts = countMatches(matches);
    expect(counts.QConv).toBe(81);
    expect(counts.FloatActivation).toBe(49);
  });

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
