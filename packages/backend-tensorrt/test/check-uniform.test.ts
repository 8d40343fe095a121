import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { loadModel, type Node } from '@qdeploy/core';
import { buildResNet18Like } from '@qdeploy/core/testing';
import { checkPlacement } from '../src/check/index.js';
import { checkResNet18Uniform, checkUniformCase, folded, type UniformCase } from './check-uniform-cases.js';
import { randomInput, runModel, vendored } from './helpers.js';
import { uniformQdq } from './fixtures/check/builders.js';

const CASES: Record<string, UniformCase> = {
  // fmnist ResNet: stem Conv→ReLU; 3 stages × 2 basic blocks (c1→ReLU, c2→Add(·, skip)→ReLU), the first
  // block of stages 2 and 3 with a 1×1 shortcut conv; GAP → Flatten → Gemm. 16 weighted layers, 37 ops.
  //  - qdq-before-activation 13: stem Conv→Q/DQ→ReLU (1), every c1→Q/DQ→ReLU (6), every Add→Q/DQ→ReLU (6);
  //  - qdq-on-conv-branch 6: c2→Q/DQ→Add in each of the 6 blocks (the shortcut conv's Q/DQ is on the skip: fine);
  //  - quantized-pooling 1: the GAP input;
  //  - 16 INT8 groups (all 16 layers have quantized input and weight); 37 pairs: the graph input and the
  //    output of every op but the last (each read by an op) — one pair per op.
  'fmnist_resnet_bn (BN folded)': {
    model: () => folded(loadModel(vendored('fmnist_resnet_bn.onnx'))),
    expect: { byCode: { 'int8-group': 16, 'qdq-before-activation': 13, 'qdq-on-conv-branch': 6, 'quantized-pooling': 1 }, int8Groups: 16, qdqPairs: 37, errors: 0, warnings: 20 },
  },
  // Same network with its 15 BatchNormalization nodes (one per conv): each conv→Q/DQ→BN is an error
  // (BN can no longer be folded) — 15 — on top of the same 13 + 6 + 1 warnings; 37 + 15 = 52 pairs.
  'fmnist_resnet_bn (BN kept)': {
    model: () => loadModel(vendored('fmnist_resnet_bn.onnx')),
    expect: { byCode: { 'int8-group': 16, 'qdq-before-activation': 13, 'qdq-before-bn': 15, 'qdq-on-conv-branch': 6, 'quantized-pooling': 1 }, int8Groups: 16, qdqPairs: 52, errors: 15, warnings: 20 },
  },
  // fmnist MobileNetV2: stem Conv→ReLU6 (Clip); 5 inverted residuals (1×1 expand→Clip, 3×3 depthwise→Clip,
  // 1×1 projection), blocks f.4 and f.6 adding their input (the previous block's projection output);
  // final 1×1 Conv→Clip; GAP → Flatten → Gemm. 18 weighted layers, 34 ops.
  //  - qdq-before-activation 12: stem 1 + 5 expand + 5 depthwise + final 1;
  //  - qdq-on-conv-branch 2: both Add inputs are conv outputs behind a Q/DQ; the conv branch is the
  //    block's own projection (its input is computed from the other conv's input);
  //  - quantized-depthwise 5, quantized-pooling 1; 18 INT8 groups (depthwise included); 34 pairs.
  'fmnist_mobilenet_bn (BN folded)': {
    model: () => folded(loadModel(vendored('fmnist_mobilenet_bn.onnx'))),
    expect: { byCode: { 'int8-group': 18, 'qdq-before-activation': 12, 'qdq-on-conv-branch': 2, 'quantized-depthwise': 5, 'quantized-pooling': 1 }, int8Groups: 18, qdqPairs: 34, errors: 0, warnings: 20 },
  },
  // With the 17 BN nodes (every conv has one): 17 qdq-before-bn errors; 34 + 17 = 51 pairs.
  'fmnist_mobilenet_bn (BN kept)': {
    model: () => loadModel(vendored('fmnist_mobilenet_bn.onnx')),
    expect: { byCode: { 'int8-group': 18, 'qdq-before-activation': 12, 'qdq-before-bn': 17, 'qdq-on-conv-branch': 2, 'quantized-depthwise': 5, 'quantized-pooling': 1 }, int8Groups: 18, qdqPairs: 51, errors: 17, warnings: 20 },
  },
  // torchvision ResNet-18 (generated, @qdeploy/core/testing; the real export gives the same numbers:
  // check-uniform.exports.test.ts): stem Conv→ReLU→MaxPool; 8 basic blocks; 3 downsample shortcuts;
  // GAP → Flatten → Gemm. 21 weighted layers, 49 ops.
  //  - qdq-before-activation 17: stem 1 + 8 conv1→ReLU + 8 Add→ReLU;
  //  - qdq-on-conv-branch 8: conv2→Q/DQ→Add in every block (downsample outputs are skip inputs);
  //  - quantized-pooling 1 (GAP; MaxPool commutes with Q/DQ, so no finding); 49 pairs.
  'resnet18_like (BN folded)': {
    model: () => folded(buildResNet18Like()),
    expect: { byCode: { 'int8-group': 21, 'qdq-before-activation': 17, 'qdq-on-conv-branch': 8, 'quantized-pooling': 1 }, int8Groups: 21, qdqPairs: 49, errors: 0, warnings: 26 },
  },
  // With its 20 BN nodes: 20 qdq-before-bn errors; 49 + 20 = 69 pairs.
  'resnet18_like (BN kept)': {
    model: () => buildResNet18Like(),
    expect: { byCode: { 'int8-group': 21, 'qdq-before-activation': 17, 'qdq-before-bn': 20, 'qdq-on-conv-branch': 8, 'quantized-pooling': 1 }, int8Groups: 21, qdqPairs: 69, errors: 20, warnings: 26 },
  },
  // fmnist ViT (d=64): patch-embedding Conv; 3 pre-norm blocks of LayerNorm → Q/K/V Linear (MatMul + bias Add)
  // → Q·Kᵀ → Mul(1/√d) → Softmax → ·V → output Linear → residual Add, LayerNorm → Linear → GELU (erf form)
  // → Linear → residual Add; final LayerNorm → ReduceMean over tokens → Gemm head. 20 weighted layers.
  //  - qdq-before-bias 18: MatMul→Q/DQ→bias Add for the 6 Linears of each of the 3 blocks;
  //  - qdq-before-activation 3: first MLP Linear→Q/DQ→GELU per block;
  //  - quantized-layernorm 7: 2 per block + the final one; quantized-softmax 3;
  //  - layernorm-output-quantized 1: the final LayerNorm's Q/DQ is read by ReduceMean (per block, the
  //    LayerNorm outputs feed only the projections: fine);
  //  - no attention finding: both inputs of Q·Kᵀ and softmax·V are quantized.
  'fmnist_vit_small': {
    model: () => loadModel(vendored('fmnist_vit_small.onnx')),
    expect: {
      byCode: { 'int8-group': 20, 'layernorm-output-quantized': 1, 'qdq-before-activation': 3, 'qdq-before-bias': 18, 'quantized-layernorm': 7, 'quantized-softmax': 3 },
      int8Groups: 20, qdqPairs: 106, errors: 0, warnings: 32,
    },
  },
};

describe('checkPlacement on the uniform placement (Q/DQ on every op input)', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: reports each broken fusion`, () => checkUniformCase(c));
  }

  it('names the Q/DQ to remove and the fusion it breaks (ResNet-18, first block)', () => checkResNet18Uniform(buildResNet18Like()));

  it('reports one-sided attention MatMuls when V is left in float (ViT)', () => {
    const m = uniformQdq(loadModel(vendored('fmnist_vit_small.onnx')));
    // Take the Q/DQ pairs off V — on the MatMul input and behind the Reshape / Transpose that TensorRT
    // moves a DQ through — so softmax·V reads V in float.
    const dropQdqBehind = (n: Node, index: number) => {
      for (let v = n.input(index); v?.producer; ) {
        const p = v.producer;
        if (p.opType === 'DequantizeLinear') {
          n.setInput(index, p.input(0)!.producer!.input(0)!);
          v = n.input(index);
        } else if (p.opType === 'Reshape' || p.opType === 'Transpose') {
          n = p;
          index = 0;
          v = p.input(0);
        } else break;
      }
    };
    const softmaxV = m.graph.nodes.filter((x) => x.opType === 'MatMul' && /MatMul_1$/.test(x.name));
    expect(softmaxV).toHaveLength(3);
    for (const n of softmaxV) dropQdqBehind(n, 1);
    m.graph.cleanup();
    const report = checkPlacement(m);
    const oneSided = report.findings.filter((f) => f.code === 'attention-one-sided');
    expect(oneSided.map((f) => f.node)).toEqual(['/blocks/blocks.0/MatMul_1', '/blocks/blocks.1/MatMul_1', '/blocks/blocks.2/MatMul_1']);
    expect(oneSided[0]!.message).toMatch(/^softmax·V MatMul/);
    expect(oneSided.every((f) => f.severity === 'warning')).toBe(true);
  });

  it('builds valid QDQ models (onnxruntime runs the uniform ResNet)', async () => {
    const dims = [2, 1, 28, 28];
    const out = await runModel(uniformQdq(folded(loadModel(vendored('fmnist_resnet_bn.onnx')))), { input: new ort.Tensor('float32', randomInput(dims), dims) });
    expect(out.logits!.length).toBe(20);
    expect(out.logits!.every(Number.isFinite)).toBe(true);
  });
});
