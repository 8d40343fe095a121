import * as fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { calibrate, insertQdq, loadModel, modelToBytes, openNpy, registerCalibrator, transform } from '@qdeploy/core';
import { registerAll } from '@qdeploy/calibrators';
import { tensorrtPatterns } from '../src/index.js';
import { shared, vendored } from './helpers.js';

registerAll(registerCalibrator);

/** Top-1 of a model on the 2000 Fashion-MNIST test images. */
async function top1(bytes: Uint8Array): Promise<number> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
  const x = openNpy(shared('test_2000_x.npy'));
  const y = openNpy(shared('test_2000_y.npy'));
  try {
    const labels = y.readRows(0, y.rows) as BigInt64Array;
    let correct = 0;
    for (let i = 0; i < x.rows; i += 500) {
      const n = Math.min(500, x.rows - i);
      const out = await session.run({ input: new ort.Tensor('float32', x.readRows(i, n) as Float32Array, [n, 1, 28, 28]) });
      const logits = out.logits!.data as Float32Array;
      for (let r = 0; r < n; r++) {
        let best = 0;
        for (let c = 1; c < 10; c++) if (logits[r * 10 + c]! > logits[r * 10 + best]!) best = c;
        if (BigInt(best) === labels[i + r]) correct++;
      }
    }
    return correct / x.rows;
  } finally {
    x.close();
    y.close();
    await session.release();
  }
}

describe('fixture ViT: INT8 accuracy with attention quantized', () => {
  it('top-1 within 0.5 point of FP32 for the best calibrator (all four measured)', async () => {
    const original = loadModel(vendored('fmnist_vit_small.onnx'));
    const fp32 = await top1(modelToBytes(original));
    const expected = JSON.parse(fs.readFileSync(vendored('fp32_top1.json'), 'utf8'))['fmnist_vit_small.onnx'].top1;
    expect(fp32).toBeCloseTo(expected, 4);

    // Every Linear quantized (the fixture's d = 64 layers are below the default size rule), plus
    // both inputs of Q·Kᵀ and of softmax·V: the most the TensorRT table can quantize.
    const results: Record<string, number> = {};
    for (const method of ['minmax', 'entropy', 'percentile', 'mse']) {
      const { model, matches } = transform(original, { patterns: tensorrtPatterns({ minLinearSize: 0 }) });
      const q = insertQdq(model, matches);
      const calib = openNpy(shared('calib_512.npy'));
      try {
        await calibrate(q, async (run) => {
          for (let i = 0; i < calib.rows; i += 128) {
            const n = Math.min(128, calib.rows - i);
            await run(new ort.Tensor('float32', calib.readRows(i, n) as Float32Array, [n, 1, 28, 28]));
          }
        }, { calibrator: method, progress: false });
      } finally {
        calib.close();
      }
      expect(q.uncalibrated()).toEqual([]);
      results[method] = await top1(modelToBytes(q.toExportModel()));
    }
    console.log(`fmnist_vit_small top-1: FP32 ${fp32}, INT8 ${Object.entries(results).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    const best = Math.max(...Object.values(results));
    expect(best).toBeGreaterThanOrEqual(fp32 - 0.005);
    // None of the methods collapses.
    for (const v of Object.values(results)) expect(v).toBeGreaterThanOrEqual(fp32 - 0.01);
  });
});
