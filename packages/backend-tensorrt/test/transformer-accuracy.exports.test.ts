// The fixture ViT's INT8 accuracy on the first 2000 Fashion-MNIST test images, calibrated on
// the 512 images of ../shared/fixtures.
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { shared, vendored } from './helpers.js';
import { vitAccuracy } from './vit-accuracy.js';

describe('fixture ViT: INT8 accuracy with attention quantized (2000 test images)', () => {
  it('top-1 within 0.5 point of FP32 for the best calibrator (all four measured)', async () => {
    const { fp32, int8 } = await vitAccuracy({ testX: shared('test_2000_x.npy'), testY: shared('test_2000_y.npy'), calib: shared('calib_512.npy') });
    const expected = JSON.parse(fs.readFileSync(vendored('fp32_top1.json'), 'utf8'))['fmnist_vit_small.onnx'].top1;
    expect(fp32).toBeCloseTo(expected, 4);
    expect(Math.max(...Object.values(int8))).toBeGreaterThanOrEqual(fp32 - 0.005);
    // None of the methods collapses.
    for (const v of Object.values(int8)) expect(v).toBeGreaterThanOrEqual(fp32 - 0.01);
  });
});
