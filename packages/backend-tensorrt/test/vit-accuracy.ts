// INT8 top-1 of the fixture ViT with attention quantized, for each calibrator, shared by the
// bundled 500-image check (transformer-accuracy.test.ts) and the 2000-image one on the shared
// fixtures (transformer-accuracy.exports.test.ts).
import * as ort from 'onnxruntime-node';
import { calibrate, insertQdq, loadModel, modelToBytes, openNpy, registerCalibrator, transform } from '@qdeploy/core';
import { registerAll } from '@qdeploy/calibrators';
import { tensorrtPatterns } from '../src/index.js';
import { vendored } from './helpers.js';

registerAll(registerCalibrator);

export interface VitData {
  testX: string;
  testY: string;
  calib: string;
}

/** Top-1 of a model on Fashion-MNIST images and labels (.npy). */
async function top1(bytes: Uint8Array, data: VitData): Promise<number> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
  const x = openNpy(data.testX);
  const y = openNpy(data.testY);
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

/** FP32 top-1, and INT8 top-1 per calibration method (minmax, entropy, percentile, mse). */
export async function vitAccuracy(data: VitData): Promise<{ fp32: number; int8: Record<string, number> }> {
  const original = loadModel(vendored('fmnist_vit_small.onnx'));
  const fp32 = await top1(modelToBytes(original), data);
  // Every Linear quantized (the fixture's d = 64 layers are below the default size rule), plus
  // both inputs of Q·Kᵀ and of softmax·V: the most the TensorRT table can quantize.
  const int8: Record<string, number> = {};
  for (const method of ['minmax', 'entropy', 'percentile', 'mse']) {
    const { model, matches } = transform(original, { patterns: tensorrtPatterns({ minLinearSize: 0 }) });
    const q = insertQdq(model, matches);
    const calib = openNpy(data.calib);
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
    if (q.uncalibrated().length) throw new Error(`${method}: ${q.uncalibrated().length} quantizers left uncalibrated`);
    int8[method] = await top1(modelToBytes(q.toExportModel()), data);
  }
  console.log(`fmnist_vit_small top-1 on ${data.testX}: FP32 ${fp32}, INT8 ${Object.entries(int8).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  return { fp32, int8 };
}
