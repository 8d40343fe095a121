// The generated torchvision-shaped graphs stand in for the real exports in `npm test`:
// they must have the real networks' op counts and export quirks, and fold to the same
// FP32 function.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { FoldBatchNorm, RemoveIdentity, loadModel, modelToBytes, transform, validateModel, type Model } from '../src/index.js';
import { buildEfficientNetB0Like, buildMobileNetV2Like, buildResNet18Like, maxRelativeError, randomInput, runModel, torchScope } from '../src/testing/index.js';

const CONVERSIONS = [RemoveIdentity, FoldBatchNorm];

// Op counts of ../shared/fixtures' torchvision 0.14 exports, plus each generator's quirk.
const CASES: Record<string, { build: () => Model; ops: Record<string, number>; conversions: Record<string, number> }> = {
  resnet18: {
    build: () => buildResNet18Like(),
    ops: { Add: 8, BatchNormalization: 20, Conv: 20, Flatten: 1, Gemm: 1, GlobalAveragePool: 1, Identity: 3, MaxPool: 1, Relu: 17 },
    conversions: { RemoveIdentity: 3, FoldBatchNorm: 20 },
  },
  // 35 Clips × 2 bounds + 10 projection BNs × 2 statistics in Constant nodes.
  mobilenet_v2: {
    build: () => buildMobileNetV2Like(),
    ops: { Add: 10, BatchNormalization: 52, Clip: 35, Constant: 90, Conv: 52, Flatten: 1, Gemm: 1, GlobalAveragePool: 1 },
    conversions: { FoldBatchNorm: 52 },
  },
  efficientnet_b0: {
    build: () => buildEfficientNetB0Like(),
    ops: { Add: 9, BatchNormalization: 49, Conv: 81, Flatten: 1, Gemm: 1, GlobalAveragePool: 17, Identity: 18, Mul: 65, Sigmoid: 65 },
    conversions: { RemoveIdentity: 18, FoldBatchNorm: 49 },
  },
};

describe('torchvision-shaped generated graphs', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: the real export's op counts, dynamic batch, BN folds to the same outputs`, async () => {
      const model = c.build();
      expect(model.graph.opCounts()).toEqual(c.ops);
      expect(validateModel(model)).toEqual([]);
      expect(model.graph.inputs[0]!.shape![0]).toBe('batch');
      // Deterministic: two builds write the same bytes.
      expect(Buffer.from(modelToBytes(c.build())).equals(Buffer.from(modelToBytes(model)))).toBe(true);

      const { model: folded, conversions } = transform(model, { patterns: CONVERSIONS });
      expect(conversions).toEqual(c.conversions);
      expect(folded.graph.nodesOf('BatchNormalization')).toHaveLength(0);
      expect(folded.graph.nodesOf('Identity')).toHaveLength(0);
      // The statistics are random: folding changes the weights (a no-op fold would not).
      const weight = (m: Model) => m.graph.nodesOf('Conv')[0]!.input(1)!.constant()!.toFloat32();
      expect(maxRelativeError(weight(model), weight(folded))).toBeGreaterThan(0.05);

      const dims = [3, 3, 64, 64];
      const feeds = { input: new ort.Tensor('float32', randomInput(dims), dims) };
      const ref = await runModel(model, feeds);
      const got = await runModel(folded, feeds);
      expect(ref.logits!.length).toBe(3 * 1000);
      expect(ref.logits!.every(Number.isFinite)).toBe(true);
      expect(maxRelativeError(ref.logits!, got.logits!)).toBeLessThanOrEqual(1e-4);
    });
  }

  it('names nodes and weights as torch.onnx does', () => {
    expect(torchScope('layer2.0.downsample.0')).toBe('/layer2/layer2.0/downsample/downsample.0');
    expect(torchScope('features.1.conv.0.0')).toBe('/features/features.1/conv/conv.0/conv.0.0');
    const g = buildResNet18Like().graph;
    const names = new Set(g.nodes.map((n) => n.name));
    for (const n of ['/conv1/Conv', '/relu/Relu', '/maxpool/MaxPool', '/layer1/layer1.0/conv2/Conv', '/layer1/layer1.0/Add', '/layer1/layer1.0/relu_1/Relu', '/layer2/layer2.0/downsample/downsample.0/Conv', '/avgpool/GlobalAveragePool', '/Flatten', '/fc/Gemm']) {
      expect(names).toContain(n);
    }
    expect(g.value('layer1.0.conv1.weight')!.initializer).toBeTruthy();
    // The downsample BN's bias is the bn2 bias behind an Identity.
    expect(g.value('layer2.0.downsample.1.bias')!.producer!.opType).toBe('Identity');
    const clip = buildMobileNetV2Like().graph.nodesOf('Clip')[0]!;
    expect(clip.name).toBe('/features/features.0/features.0.2/Clip');
    expect(clip.inputs.slice(1).map((v) => v!.producer!.opType)).toEqual(['Constant', 'Constant']);
    expect(clip.inputs.slice(1).map((v) => v!.constant()!.toNumbers()[0])).toEqual([0, 6]);
  });

  it('round-trips through ONNX bytes unchanged', () => {
    const bytes = modelToBytes(buildEfficientNetB0Like());
    expect(Buffer.from(modelToBytes(loadModel(bytes))).equals(Buffer.from(bytes))).toBe(true);
  });
});
