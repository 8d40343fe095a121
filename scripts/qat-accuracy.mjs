#!/usr/bin/env node
// FP32 / PTQ / QAT top-1 on the trained Fashion-MNIST models, at W4A4 (default) and/or W8A8,
// with prepareQat's default recipe unless flags say otherwise; several seeds give mean and min–max.
// Usage: node scripts/qat-accuracy.mjs [--models a,b] [--bits 4,8] [--losses cross-entropy,distillation]
//   [--seeds 0,1,2] [--epochs 2] [--lr x (default prepareQat's: 2e-4 below 8 bits, 1e-5 at W8A8)] [--optimizer adamw] [--batch 32 (prepareQat's default)] [--temperature 1]
//   [--alpha 1] [--label-smoothing 0] [--learn-scales 0|1] [--learn-weight-scales 0|1] [--weight-scale-init max|mse] [--weight-scale-lr 1] [--mse-weight-clip 0|1]
//   [--scale-lr 10] [--warmup 0] [--min-lr 0] [--ema decay (0: off)] [--beta2 0.999]
//   [--schedule cosine] [--weight-decay 0] [--clip N] [--calibrator mse] [--limit N] [--min-linear-size N] [--threads N]
// Trains on train_8192_{x,y}.npy, calibrates on its first 512 images, evaluates on test_2000_{x,y}.npy
// (../shared/fixtures or $QDEPLOY_FIXTURES). Needs a build (npm run build).
// Top-1 is the fake-quant model as onnxruntime runs it (qat.predict: activations clipped to the nBits
// grid); at 8 bits that is exactly the exported QDQ model.
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadModel, transform, insertQdq, calibrate, openNpy, modelToBytes, usePlugin, resolveBackend, prepareQat, trainQat, npyDataset, DEFAULT_QAT_BATCH_SIZE, DEFAULT_QAT_LR, DEFAULT_QAT_LR_8BIT } from '@qdeploy/core';
import calibrators from '@qdeploy/calibrators';
import tensorrt, { tensorrtPatterns } from '@qdeploy/backend-tensorrt';

const args = Object.fromEntries(process.argv.slice(2).reduce((a, x, i, all) => (x.startsWith('--') ? [...a, [x.slice(2), all[i + 1]]] : a), []));
const fixtures = process.env.QDEPLOY_FIXTURES ?? path.resolve(import.meta.dirname, '../../shared/fixtures');
await usePlugin(tensorrt);
await usePlugin(calibrators);
const backend = resolveBackend('tensorrt');

const models = (args.models ?? 'fmnist_resnet.onnx,fmnist_mobilenet.onnx,fmnist_vit_small.onnx').split(',');
const losses = (args.losses ?? 'cross-entropy,distillation').split(',');
const bitsList = (args.bits ?? '4').split(',').map(Number);
const epochs = Number(args.epochs ?? 2);
const lr = args.lr === undefined ? undefined : Number(args.lr); // undefined: prepareQat's default for the bit width
const batchSize = Number(args.batch ?? DEFAULT_QAT_BATCH_SIZE);
const seeds = (args.seeds ?? args.seed ?? '0').split(',').map(Number);
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

async function quantized(original, bits) {
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
    loss: loss === 'distillation'
      ? { type: 'distillation', temperature: Number(args.temperature ?? 1), alpha: Number(args.alpha ?? 1), labelSmoothing: Number(args['label-smoothing'] ?? 0) }
      : { type: 'cross-entropy', labelSmoothing: Number(args['label-smoothing'] ?? 0) },
    optimizer: { type: args.optimizer ?? 'adamw', lr, weightDecay: Number(args['weight-decay'] ?? 0), ...(args.beta2 ? { betas: [0.9, Number(args.beta2)] } : {}) },
    schedule: { type: args.schedule, warmupSteps: Number(args.warmup ?? 0), minLr: Number(args['min-lr'] ?? 0) },
    learnScales: args['learn-scales'] === undefined ? undefined : args['learn-scales'] === '1',
    learnWeightScales: args['learn-weight-scales'] === undefined ? undefined : args['learn-weight-scales'] === '1',
    weightScaleInit: args['weight-scale-init'],
    weightScaleLrFactor: args['weight-scale-lr'] ? Number(args['weight-scale-lr']) : undefined,
    mseWeightClip: args['mse-weight-clip'] === '1',
    clipGradNorm: args.clip ? Number(args.clip) : undefined,
    emaDecay: args.ema === undefined ? undefined : Number(args.ema),
    scaleLrFactor: args['scale-lr'] ? Number(args['scale-lr']) : undefined,
    sessionOptions: args.threads ? { intraOpNumThreads: Number(args.threads) } : undefined,
  };
}

/** The TensorRT placement checker's findings, as one comparable string. */
const findings = (m) => backend.check(m).map((f) => `${f.severity} ${f.code} ${f.node ?? ''}`).sort().join('\n');

const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
const f = (v) => (v === undefined ? '' : v.toFixed(2));
const delta = (v, ref) => `${v - ref >= 0 ? '+' : '−'}${Math.abs(v - ref).toFixed(2)}`;
/** One seed: "92.70 (−1.10)"; several: "mean (−Δ), min–max". */
function cell(values, ref) {
  if (!values?.length) return '';
  const m = mean(values);
  return values.length === 1 ? `${f(m)} (${delta(m, ref)})` : `${f(m)} (${delta(m, ref)}), ${f(Math.min(...values))}–${f(Math.max(...values))}`;
}

const differs = [];
for (const bits of bitsList) {
  const rows = [];
  for (const file of models) {
    const original = loadModel(path.join(fixtures, file));
    const row = { model: file, fp32: await fp32Top1(original) };
    for (const loss of losses) {
      row[loss] = [];
      for (const seed of seeds) {
        const q = await quantized(original, bits);
        const ptqFindings = findings(q.toExportModel({ quiet: true }));
        const qat = await prepareQat(q, qatOptions(loss));
        row.ptq ??= await top1((x) => qat.predict(x));
        const data = npyDataset(trainX, trainY);
        const t0 = performance.now();
        await trainQat(qat, { data, epochs, seed, limit: args.limit ? Number(args.limit) : undefined, progress: false,
          onEpoch: (e) => console.error(`W${bits}A${bits} ${file} ${loss} seed ${seed} epoch ${e.epoch}: loss ${e.loss.toFixed(4)}, train top-1 ${e.accuracy === null ? '-' : (100 * e.accuracy).toFixed(2)}, ${e.samplesPerSecond.toFixed(0)} samples/s`) });
        const acc = await top1((x) => qat.predict(x));
        row[loss].push(acc);
        // The QAT export: the same placement checker findings as the PTQ export.
        const check = findings(qat.model.toExportModel({ quiet: true })) === ptqFindings ? 'same placement' : 'PLACEMENT DIFFERS';
        if (check !== 'same placement') differs.push(`W${bits}A${bits} ${file} ${loss} seed ${seed}`);
        data.close();
        await qat.release();
        console.error(JSON.stringify({ bits, model: file, loss, seed, fp32: row.fp32, ptq: row.ptq, qat: acc, seconds: (performance.now() - t0) / 1000, check }));
      }
    }
    rows.push(row);
  }
  const recipe = `${args.optimizer ?? 'adamw'} lr ${lr ?? (bits >= 8 ? DEFAULT_QAT_LR_8BIT : DEFAULT_QAT_LR)} ${args.schedule ?? 'cosine'}${args.warmup ? `, warm-up ${args.warmup}` : ''}, ${args['learn-scales'] === '0' ? 'fixed' : 'learned'} activation scales, ${args['learn-weight-scales'] === '1' ? `learned weight scales (${args['weight-scale-init'] ?? 'max'} start, lr ×${args['weight-scale-lr'] ?? 1})` : args['mse-weight-clip'] === '1' ? 'per-step MSE weight clip' : 'max |w| weight scales'}`;
  console.log(`\nW${bits}A${bits} (per-channel weights, per-tensor activations), TensorRT placement, calibration ${args.calibrator ?? 'mse'} on 512 training images; QAT ${epochs} epochs of ${args.limit ?? 8192} images, batch ${batchSize}, ${recipe}; seeds ${seeds.join(',')}${seeds.length > 1 ? ' (mean (Δ vs FP32), min–max)' : ''}; top-1 on 2000 test images\n`);
  console.log(`| model | FP32 | PTQ | ${losses.map((l) => `QAT ${l}`).join(' | ')} |`);
  console.log(`|---|---|---|${losses.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${r.model} | ${f(r.fp32)} | ${cell([r.ptq], r.fp32)} | ${losses.map((l) => cell(r[l], r.fp32)).join(' | ')} |`);
}
console.log(differs.length ? `\nPLACEMENT DIFFERS from the PTQ export: ${differs.join('; ')}` : '\nEvery QAT export gets the same TensorRT placement-checker findings as its PTQ export.');
