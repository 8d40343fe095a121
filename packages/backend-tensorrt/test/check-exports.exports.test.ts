// checkPlacement on the QDQ models qdeploy exports from the real torchvision exports (../shared/fixtures).
import { describe, it } from 'vitest';
import { loadModel } from '@qdeploy/core';
import { checkExportCase, checkResNet18Fusions, type ExportCase } from './check-export-cases.js';
import { shared } from './helpers.js';

const CASES: Record<string, ExportCase> = {
  // Stem + 8 ConvBNReLU + 8 ConvBNAddReLU + 3 downsample ConvBN + 1 Linear.
  resnet18_bn: { model: () => loadModel(shared('resnet18_bn.onnx')), int8Groups: 21, floatLayers: 0 },
  // 18 ConvBNReLU + 7 ConvBN + 10 ConvBNAdd + 1 Linear; 17 depthwise convs stay float.
  mobilenet_v2_bn: { model: () => loadModel(shared('mobilenet_v2_bn.onnx')), int8Groups: 36, floatLayers: 17 },
  // SiLU everywhere, squeeze-excitation convs: 33 ConvBNReLU + 23 ConvBN + 9 ConvBNAdd + 1 Linear; 16 depthwise float.
  efficientnet_b0_bn: { model: () => loadModel(shared('efficientnet_b0_bn.onnx')), int8Groups: 66, floatLayers: 16 },
};

describe('checkPlacement on the QDQ models qdeploy exports from the real torchvision exports', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: no error, no warning, one INT8 group per quantized conv/linear match`, () => checkExportCase(c));
  }

  it('says, per layer, what TensorRT fuses on ResNet-18', () => checkResNet18Fusions(loadModel(shared('resnet18_bn.onnx'))));
});
