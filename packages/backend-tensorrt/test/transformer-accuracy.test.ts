// The fixture ViT's INT8 accuracy on the 500 test images and 256 calibration images bundled
// with the Fashion-MNIST example (the first of the shared splits; the 2000-image check is
// transformer-accuracy.exports.test.ts).
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers.js';
import { vitAccuracy } from './vit-accuracy.js';

const data = (name: string) => path.join(repoRoot(), 'examples/fashion-mnist/data', name);

describe('fixture ViT: INT8 accuracy with attention quantized (500 bundled test images)', () => {
  it('top-1 within 0.6 point of FP32 for the best calibrator (all four measured)', async () => {
    const { fp32, int8 } = await vitAccuracy({ testX: data('test_500_x.npy'), testY: data('test_500_y.npy'), calib: data('calib_256.npy') });
    // The trained model (87.95 % on the first 2000 images), not a broken pairing of model and data.
    expect(fp32).toBeGreaterThan(0.85);
    // 3 images of 500.
    expect(Math.max(...Object.values(int8))).toBeGreaterThanOrEqual(fp32 - 0.006);
    // None of the methods collapses.
    for (const v of Object.values(int8)) expect(v).toBeGreaterThanOrEqual(fp32 - 0.012);
  });
});
