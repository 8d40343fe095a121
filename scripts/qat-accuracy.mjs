#!/usr/bin/env node
// FP32 / PTQ / QAT top-1 on the trained Fashion-MNIST models, at W4A4 (default) or W8A8.
// Usage: node scripts/qat-accuracy.mjs [--models a,b] [--bits 4] [--losses cross-entropy,distillation]
//   [--epochs 2] [--lr 1e-4] [--optimizer adamw] [--batch 32] [--temperature 1] [--learn-scales 1]
//   [--calibrator mse] [--limit N] [--warmup 0] [--min-linear-size N] [--seed 0] [--scale-lr 1] [--threads N]
// Trains on train_8192_{x,y}.npy, calibrates on its first 512 images, evaluates on test_2000_{x,y}.npy
// (../shared/fixtures or $QDEPLOY_FIXTURES). Needs a build (npm run build).
// Top-1 is the fake-quant model as onnxruntime runs it (qat.predict: activations clipped to the nBits
// grid); at 8 bits that is exactly the exported QDQ model.
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadModel, transform, insertQdq, calibrate, openNpy, modelToBytes, usePlugin, resolveBackend, prepareQat, trainQat, npyDataset } from '@qdeploy/core';
import calibrators from '@qdeploy/calibrators';
import tensorrt, { tensorrtPatterns } from '@qdeploy/backend-tensorrt';

const args = Object.fromEntries(process.argv.slice(2).reduce((a, x, i, all) => (x.startsWith('--') ? [...a, [x.slice(2), all[i + 1]]] : a), []));
const fixtures = process.env.QDEPLOY_FIXTURES ?? path.resolve(import.meta.dirname, '../../shared/fixtures');
await usePlugin(tensorrt);
await usePlugin(calibrators);
const backend = resolveBackend('tensorrt');

const models = (args.models ?? 'fmnist_resnet.onnx,fmnist_mobilenet.onnx,fmnist_vit_small.onnx').split(',');
const losses = (args.losses ?? 'cross-entropy,distillation').split(',');
const bits = Number(args.bits ?? 4);
const epochs = Number(args.epochs ?? 2);
const lr = Number(args.lr ?? 1e-4);
const batchSize = Number(args.batch ?? 32);
const seed = Number(args.seed ?? 0);
const testX = openNpy(path.join(fixtures, 'test_2000_x.npy'));
const testY = openNpy(path.join(fixtures, 'test_2000_y.npy'));
const labels = Array.from(testY.readRows(0, testY.shape[0]), Number);
const trainX = path.join(fixtures, 'train_8192_x.npy');
const trainY = path.join(fixtures, 'train_8192_y.npy');
const calibX = openNpy(trainX);
const rowDims = testX.shape.slice(1);
const EVAL_BATCH = 50;

function countCorrect(out, i, n) {
  let correct = 0;
  for (let k = 0; k < n; k++) {
    let best = 0;
    for (let c = 1; c < 10; c++) if (out[k * 10 + c] > out[k * 10 + best]) best = c;
    if (best === labels[i + k]) correct++;
  }
  return correct;
}

/** Top-1 of `predict(x)` over the 2000 test images. */
async function top1(predict) {
  let correct = 0;
  for (let i = 0; i < testX.shape[0]; i += EVAL_BATCH) {
    const x = new ort.Tensor('float32', testX.readRows(i, EVAL_BATCH), [EVAL_BATCH, ...rowDims]);
    correct += countCorrect(await predict(x), i, EVAL_BATCH);
  }
  return (100 * correct) / testX.shape[0];
}

async function fp32Top1(model) {
  const s = await ort.InferenceSession.create(modelToBytes(model));
  const r = await top1(async (x) => (await s.run({ input: x }))[s.outputNames[0]].data);
  await s.release();
  return r;
}

async function quantized(original) {
  const patterns = args['min-linear-size'] !== undefined ? tensorrtPatterns({ minLinearSize: Number(args['min-linear-size']) }) : backend.patterns;
  const { model, matches } = transform(original, { patterns });
  const q = insertQdq(model, matches, { config: { activation: { nBits: bits }, weight: { nBits: bits, perChannel: true } } });
  await calibrate(q, async (run) => {
    for (let i = 0; i < 512; i += 64) await run(new ort.Tensor('float32', calibX.readRows(i, 64), [64, ...rowDims]));
  }, { calibrator: args.calibrator ?? 'mse', inputCalibrator: 'minmax', progress: false });
  return q;
}

function qatOptions(loss) {
  return {
    batchSize,
    loss: loss === 'distillation' ? { type: 'distillation', temperature: Number(args.temperature ?? 1) } : { type: 'cross-entropy', labelSmoothing: Number(args['label-smoothing'] ?? 0) },
    optimizer: { type: args.optimizer ?? 'adamw', lr, weightDecay: Number(args['weight-decay'] ?? 0) },
    schedule: { type: args.schedule ?? 'cosine', warmupSteps: Number(args.warmup ?? 0) },
    learnScales: args['learn-scales'] === '1',
    clipGradNorm: args.clip ? Number(args.clip) : undefined,
    scaleLrFactor: args['scale-lr'] ? Number(args['scale-lr']) : undefined,
    sessionOptions: args.threads ? { intraOpNumThreads: Number(args.threads) } : undefined,
  };
}

/** The TensorRT placement checker's findings, as one comparable string. */
const findings = (m) => backend.check(m).map((f) => `${f.severity} ${f.code} ${f.node ?? ''}`).sort().join('\n');

const rows = [];
for (const file of models) {
  const original = loadModel(path.join(fixtures, file));
  const fp32 = await fp32Top1(original);
  const row = { model: file, fp32 };
  for (const loss of losses) {
    const q = await quantized(original);
    const ptqFindings = findings(q.toExportModel({ quiet: true }));
    const qat = await prepareQat(q, qatOptions(loss));
    row.ptq ??= await top1((x) => qat.predict(x));
    const data = npyDataset(trainX, trainY);
    const t0 = performance.now();
    const r = await trainQat(qat, { data, epochs, seed, limit: args.limit ? Number(args.limit) : undefined, progress: false,
      onEpoch: (e) => console.error(`${file} ${loss} epoch ${e.epoch}: loss ${e.loss.toFixed(4)}, train top-1 ${e.accuracy === null ? '-' : (100 * e.accuracy).toFixed(2)}, ${e.samplesPerSecond.toFixed(0)} samples/s`) });
    row[loss] = await top1((x) => qat.predict(x));
    row[`${loss} s`] = (performance.now() - t0) / 1000;
    // The QAT export: the same placement checker findings as the PTQ export.
    row[`${loss} check`] = findings(qat.model.toExportModel({ quiet: true })) === ptqFindings ? 'same placement' : 'PLACEMENT DIFFERS';
    data.close();
    await qat.release();
    console.error(JSON.stringify(row));
    void r;
  }
  rows.push(row);
}
const f = (v) => (v === undefined ? '' : v.toFixed(2));
const d = (v, ref) => (v === undefined ? '' : `${v.toFixed(2)} (${v - ref >= 0 ? '+' : '−'}${Math.abs(v - ref).toFixed(2)})`);
console.log(`W${bits}A${bits} (per-channel weights, per-tensor activations), TensorRT placement, calibration ${args.calibrator ?? 'mse'} on 512 training images; QAT ${epochs} epochs of ${args.limit ?? 8192} images, batch ${batchSize}, ${args.optimizer ?? 'adamw'} lr ${lr} ${args.schedule ?? 'cosine'}${args['learn-scales'] === '1' ? ', learned activation scales' : ''}; top-1 on 2000 test images\n`);
console.log(`| model | FP32 | PTQ | ${losses.map((l) => `QAT ${l}`).join(' | ')} |`);
console.log(`|---|---|---|${losses.map(() => '---').join('|')}|`);
for (const r of rows) console.log(`| ${r.model} | ${f(r.fp32)} | ${d(r.ptq, r.fp32)} | ${losses.map((l) => d(r[l], r.fp32)).join(' | ')} |`);
