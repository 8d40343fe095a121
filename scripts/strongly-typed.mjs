#!/usr/bin/env node
// Top-1 of the strongly typed FP16 / BF16 exports vs the FP32-float QDQ export on the
// trained Fashion-MNIST models, and how exactly onnxruntime runs the FP16 model (with and
// without its graph optimisations) compared with Cast-pair emulation.
// Usage: node scripts/strongly-typed.mjs [--models a,b] [--method mse]
// Needs the shared fixtures (../shared/fixtures or $QDEPLOY_FIXTURES) and a build (npm run build).
import * as path from 'node:path';
import {
  calibrate, evaluateModel, insertQdq, loadModel, measureFloatRanges, modelToBytes, npySource, toForwardLoop, toStronglyTyped, transform, usePlugin,
} from '@qdeploy/core';
import calibrators from '@qdeploy/calibrators';
import { tensorrtPatterns } from '@qdeploy/backend-tensorrt';

const args = Object.fromEntries(process.argv.slice(2).reduce((a, x, i, all) => (x.startsWith('--') ? [...a, [x.slice(2), all[i + 1]]] : a), []));
const fixtures = process.env.QDEPLOY_FIXTURES ?? path.resolve(import.meta.dirname, '../../shared/fixtures');
await usePlugin(calibrators);
const models = (args.models ?? 'fmnist_resnet.onnx,fmnist_mobilenet.onnx,fmnist_vit_small.onnx').split(',');
const loop = async () => toForwardLoop(await npySource(path.join(fixtures, 'calib_512.npy'), { batchSize: 64 }));
const data = { data: path.join(fixtures, 'test_2000_x.npy'), labels: path.join(fixtures, 'test_2000_y.npy'), progress: false };
const asIs = { graphOptimizationLevel: 'disabled', logSeverityLevel: 3 };
const pct = (x) => (100 * x).toFixed(2);

console.log('| model | FP32-float QDQ | FP16 (onnxruntime, no graph opt.) | FP16 emulated (Cast pairs) | BF16 emulated | FP16 with onnxruntime\'s graph opt.: SQNR vs FP32-float | no graph opt.: SQNR | emulated: SQNR |');
console.log('|---|---|---|---|---|---|---|---|');
for (const file of models) {
  const { model, matches } = transform(loadModel(path.join(fixtures, file)), { patterns: tensorrtPatterns(file.includes('vit') ? { minLinearSize: 0 } : {}) });
  const q = insertQdq(model, matches);
  await calibrate(q, await loop(), { calibrator: args.method ?? 'mse', limit: 512, progress: false });
  const ranges = await measureFloatRanges(model, await loop(), { limit: 512 });
  const fp32 = modelToBytes(q.toExportModel());
  const fp16 = modelToBytes(toStronglyTyped(q.toExportModel({ quiet: true }), { float: 'fp16', ranges }).model);
  const emu16 = modelToBytes(toStronglyTyped(q.toExportModel({ quiet: true }), { float: 'fp16', ranges, emulate: true }).model);
  const emubf = modelToBytes(toStronglyTyped(q.toExportModel({ quiet: true }), { float: 'bf16', ranges, emulate: true }).model);
  const fs = await import('node:fs');
  const os = await import('node:os');
  const ref = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'qdeploy-st-')), 'fp32.onnx');
  fs.writeFileSync(ref, fp32);
  const base = await evaluateModel(fp32, data);
  const typed = await evaluateModel(fp16, { ...data, ref, sessionOptions: asIs });
  const optimised = await evaluateModel(fp16, { ...data, ref, sessionOptions: { logSeverityLevel: 3 } });
  const emulated = await evaluateModel(emu16, { ...data, ref, sessionOptions: asIs });
  const bf = await evaluateModel(emubf, { ...data, sessionOptions: asIs });
  console.log(`| ${file} | ${pct(base.top1)} | ${pct(typed.top1)} | ${pct(emulated.top1)} | ${pct(bf.top1)} | ${optimised.ref.sqnrDb.toFixed(1)} dB (top-1 ${pct(optimised.top1)}) | ${typed.ref.sqnrDb.toFixed(1)} dB | ${emulated.ref.sqnrDb.toFixed(1)} dB |`);
  fs.rmSync(path.dirname(ref), { recursive: true, force: true });
}
