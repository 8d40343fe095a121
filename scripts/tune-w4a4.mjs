#!/usr/bin/env node
// W4A4 mixed precision under a budget on the trained Fashion-MNIST models: PTQ at 4 bits, then
// `tune` (the same search as `qdeploy tune`) on 1000 training images it was not calibrated on,
// checked on the 2000 held-out test images. Prints the README's table.
// Usage: node scripts/tune-w4a4.mjs [--models a,b] [--max-drop 1] [--calibrator mse] [--tuning 1000]
// Needs the shared fixtures (../shared/fixtures or $QDEPLOY_FIXTURES) and a build (npm run build).
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadModel, transform, insertQdq, calibrate, openNpy, usePlugin, resolveBackend, readBatches, tune, modelToBytes } from '@qdeploy/core';
import calibrators from '@qdeploy/calibrators';
import trt from '@qdeploy/backend-tensorrt';

const args = Object.fromEntries(process.argv.slice(2).reduce((a, x, i, all) => (x.startsWith('--') ? [...a, [x.slice(2), all[i + 1]]] : a), []));
const fixtures = process.env.QDEPLOY_FIXTURES ?? path.resolve(import.meta.dirname, '../../shared/fixtures');
await usePlugin(trt);
await usePlugin(calibrators);
const backend = resolveBackend('tensorrt');
const models = (args.models ?? 'fmnist_resnet.onnx,fmnist_mobilenet.onnx').split(',');
const maxDrop = Number(args['max-drop'] ?? 1);
const method = args.calibrator ?? 'mse';
const tuningN = Number(args.tuning ?? 1000);
const f = (n) => path.join(fixtures, n);
const calibX = openNpy(f('calib_512.npy'));
const rows = [];
for (const file of models) {
  const original = loadModel(f(file));
  const { model, matches } = transform(original, { patterns: backend.patterns });
  const modelInputs = [{ name: original.graph.inputs[0].name, dims: [-1, 1, 28, 28], type: 'float32' }];
  const place = async (bits) => {
    const q = insertQdq(model, matches, { config: { activation: { nBits: bits }, weight: { nBits: bits, perChannel: true } } });
    await calibrate(q, async (run) => {
      for (let i = 0; i < 512; i += 64) await run(new ort.Tensor('float32', calibX.readRows(i, 64), [64, 1, 28, 28]));
    }, { calibrator: method, calibratorOptions: method === 'mse' ? { nBits: bits } : undefined, progress: false });
    return q;
  };
  const q4 = await place(4);
  const q8 = await place(8);
  // Tuning: training images 4096.. (calibration used 0..511); held out: the first 2000 test images.
  const tuning = await readBatches(f('train_8192_x.npy'), { labels: f('train_8192_y.npy'), offset: 4096, limit: tuningN, batchSize: 250, modelInputs });
  const heldOut = await readBatches(f('test_2000_x.npy'), { labels: f('test_2000_y.npy'), batchSize: 250, modelInputs });
  // The W4A4 PTQ model on the held-out images (onnxruntime without graph fusions, as tune checks its own result).
  const ptq = await ort.InferenceSession.create(modelToBytes(q4.toExportModel({ quiet: true })), { graphOptimizationLevel: 'disabled' });
  let correct = 0, at = 0;
  for (const [b, feed] of heldOut.batches.entries()) {
    const out = (await ptq.run(feed)).logits.data;
    for (let k = 0; k < heldOut.sizes[b]; k++, at++) {
      let best = 0;
      for (let c = 1; c < 10; c++) if (out[k * 10 + c] > out[k * 10 + best]) best = c;
      if (best === heldOut.labels[at]) correct++;
    }
  }
  await ptq.release();
  const ptqHeld = correct / heldOut.samples;
  const t0 = performance.now();
  const r = await tune(q4, tuning, { metric: 'top1', maxDrop, wide: q8, heldOut, onStep: (s) => console.error(JSON.stringify({ model: file, ...s, metrics: undefined, top1: s.metrics.top1 })) });
  const s = (performance.now() - t0) / 1000;
  const pct = (x) => (x * 100).toFixed(2);
  rows.push([file, r.steps.length - 1, pct(r.tuning.fp32.top1), `${pct(r.steps[0].metrics.top1)} (−${r.steps[0].score.toFixed(2)})`, `${pct(r.tuning.quantized.top1)} (−${r.tuning.score.toFixed(2)})`,
    pct(r.heldOut.fp32.top1), `${pct(ptqHeld)} (−${((r.heldOut.fp32.top1 - ptqHeld) * 100).toFixed(2)})`, `${pct(r.heldOut.quantized.top1)} (−${r.heldOut.score.toFixed(2)})${r.heldOut.met ? '' : ' **over budget**'}`,
    `${pct(r.baseMacShare)} % / ${pct(r.quantizedMacShare)} %`, `${r.float.length} float, ${r.widened.length} W8A8`, s.toFixed(1)]);
  console.error(JSON.stringify(r.configSnippet));
}
console.log(`W4A4 (${method}), tune --max-drop ${maxDrop} on ${tuningN} training images, held out: test_2000\n`);
console.log('| model | steps | FP32 tuning | W4A4 PTQ tuning | tuned tuning | FP32 held-out | W4A4 PTQ held-out | tuned held-out | MACs 4-bit / quantized | fallbacks | s |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
