// Lossless load → save on the largest real PyTorch export (../shared/fixtures).
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadModel, modelToBytes } from '../src/index.js';
import { shared } from './helpers/fixtures.js';
import { canonical } from './helpers/onnx-canonical.js';

describe('torchvision exports', () => {
  it('round-trips resnet18_bn (46 MB) losslessly', () => {
    const file = shared('resnet18_bn.onnx');
    const model = loadModel(file);
    expect(canonical(modelToBytes(model))).toEqual(canonical(fs.readFileSync(file)));
  });
});
