// In-graph observation on the real torchvision EfficientNet-B0 export (../shared/fixtures, 224×224).
import { describe, it } from 'vitest';
import { loadModel } from '../src/index.js';
import { shared } from './helpers/fixtures.js';
import { checkObservedAsValues } from './helpers/observe-architecture.js';

describe('in-graph observation on the real EfficientNet-B0 export', () => {
  it('EfficientNet-B0: minmax ranges and entropy histograms as from the values', () => {
    return checkObservedAsValues(loadModel(shared('efficientnet_b0_bn.onnx')), [1, 3, 224, 224]);
  });
});
