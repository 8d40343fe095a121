#!/usr/bin/env node
// INT8 top-1 vs FP32 for each calibrator on the trained Fashion-MNIST models.
// Usage: node scripts/accuracy.mjs [--backend tensorrt|reference] [--models a,b] [--methods m1,m2] [--min-linear-size N] [--histogram-stride K]
// Needs the shared fixtures (../shared/fixtures or $QDEPLOY_FIXTURES) and a build (npm run build).
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadModel, transform, insertQdq, calibrate, openNpy, modelToBytes, usePlugin, resolveBackend } from '@qdeploy/core';
import calibrators from '@qdeploy/calibrators';

const args = Object.fromEntries(process.argv.slice(2).reduce((a, x, i, all) => (x.startsWith('--') ? [...a, [x.slice(2), all[i + 1]]] : a), []));
const fixtures = process.env.QDEPLOY_FIXTURES ?? path.resolve(import.meta.dirname, '../../shared/fixtures');
const backendName = args.backend ?? 'tensorrt';
const { default: backendPlugin, tensorrtPatterns } = await import(`@qdeploy/backend-${backendName}`);
await usePlugin(backendPlugin);
await usePlugin(calibrators);
const backend = resolveBackend(backendName);

const models = (args.models ?? 'fmnist_resnet.onnx,fmnist_mobilenet.onnx').split(',');
const methods = (args.methods ?? 'minmax,entropy,percentile,mse').split(',');
const calibN = Number(args.calib ?? 512);
const testX = openNpy(path.join(fixtures, 'test_2000_x.npy'));
const testY = openNpy(path.join(fixtures, 'test_2000_y.npy'));
const labels = Array.from(testY.readRows(0, testY.shape[0]), Number);
const calibX = openNpy(path.join(fixtures, 'calib_512.npy'));
const rowDims = testX.shape.slice(1);

async function top1(bytes) {
  const s = await ort.InferenceSession.create(bytes);
  let correct = 0;
  for (let i = 0; i < testX.shape[0]; i += 250) {
    const n = Math.min(250, testX.shape[0] - i);
    const x = new ort.Tensor('float32', testX.readRows(i, n), [n, ...rowDims]);
    const out = (await s.run({ input: x })).logits.data;
    for (let k = 0; k < n; k++) {
      let best = 0;
      for (let c = 1; c < 10; c++) if (out[k * 10 + c] > out[k * 10 + best]) best = c;
      if (best === labels[i + k]) correct++;
    }
  }
  await s.release();
  return correct / testX.shape[0];
}

const rows = [];
for (const file of models) {
  const original = loadModel(path.join(fixtures, file));
  const fp32 = await top1(modelToBytes(original));
  // --min-linear-size N: the TensorRT Linear size rule (the fixture ViT's 64-wide layers are below the default 256).
  const patterns = args['min-linear-size'] !== undefined && tensorrtPatterns
    ? tensorrtPatterns({ minLinearSize: Number(args['min-linear-size']) })
    : backend.patterns;
  const { model, matches } = transform(original, { patterns });
  for (const method of methods) {
    const q = insertQdq(model, matches, { config: backend.quantConfig });
    const t0 = performance.now();
    await calibrate(q, async (run) => {
      for (let i = 0; i < calibN; i += 64) {
        const n = Math.min(64, calibN - i);
        await run(new ort.Tensor('float32', calibX.readRows(i, n), [n, ...rowDims]));
      }
    }, { calibrator: method, progress: false, histogramStride: args['histogram-stride'] ? Number(args['histogram-stride']) : undefined });
    const calibS = (performance.now() - t0) / 1000;
    const int8 = await top1(modelToBytes(q.toExportModel({ quiet: true })));
    rows.push({ model: file, method, fp32: (fp32 * 100).toFixed(2), int8: (int8 * 100).toFixed(2), delta: ((int8 - fp32) * 100).toFixed(2), calibS: calibS.toFixed(2) });
    console.error(JSON.stringify(rows.at(-1)));
  }
}
console.log(`backend ${backendName}, calibration ${calibN} images, evaluation on ${testX.shape[0]} test images\n`);
console.log('| model | calibrator | FP32 top-1 | INT8 top-1 | Δ (points) | calibration s |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.model} | ${r.method} | ${r.fp32} | ${r.int8} | ${r.delta} | ${r.calibS} |`);
