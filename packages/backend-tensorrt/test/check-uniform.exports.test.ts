// checkPlacement on the uniform placement of the real torchvision ResNet-18 export (../shared/fixtures).
import { describe, it } from 'vitest';
import { loadModel } from '@qdeploy/core';
import { checkResNet18Uniform, checkUniformCase, folded, type UniformCase } from './check-uniform-cases.js';
import { shared } from './helpers.js';

const resnet18 = () => loadModel(shared('resnet18_bn.onnx'));

const CASES: Record<string, UniformCase> = {
  // Stem Conv→ReLU→MaxPool; 8 basic blocks; 3 downsample shortcuts; GAP → Flatten → Gemm. 21 weighted layers, 49 ops.
  //  - qdq-before-activation 17: stem 1 + 8 conv1→ReLU + 8 Add→ReLU;
  //  - qdq-on-conv-branch 8: conv2→Q/DQ→Add in every block (downsample outputs are skip inputs);
  //  - quantized-pooling 1 (GAP; MaxPool commutes with Q/DQ, so no finding); 49 pairs.
  'resnet18_bn (BN folded)': {
    model: () => folded(resnet18()),
    expect: { byCode: { 'int8-group': 21, 'qdq-before-activation': 17, 'qdq-on-conv-branch': 8, 'quantized-pooling': 1 }, int8Groups: 21, qdqPairs: 49, errors: 0, warnings: 26 },
  },
  // With its 20 BN nodes: 20 qdq-before-bn errors; 49 + 20 = 69 pairs.
  'resnet18_bn (BN kept)': {
    model: resnet18,
    expect: { byCode: { 'int8-group': 21, 'qdq-before-activation': 17, 'qdq-before-bn': 20, 'qdq-on-conv-branch': 8, 'quantized-pooling': 1 }, int8Groups: 21, qdqPairs: 69, errors: 20, warnings: 26 },
  },
};

describe('checkPlacement on the uniform placement of the real ResNet-18 export', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: reports each broken fusion`, () => checkUniformCase(c));
  }

  it('names the Q/DQ to remove and the fusion it breaks (first block)', () => checkResNet18Uniform(resnet18()));
});
