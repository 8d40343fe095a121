#!/usr/bin/env node
// FP32 vs INT8 on onnxruntime's CPU provider with the reference backend: accuracy on the
// 2000 Fashion-MNIST test images and median latency at batch 1 and 32.
//   npm run build && node packages/backend-reference/bench.mjs [--calibrator mse] [--threads N] [--symmetric] [--json]
// --symmetric: int8 symmetric activations instead of the backend's uint8 asymmetric ones (to compare).
// Data: $QDEPLOY_FIXTURES or ../shared/fixtures (calib_512.npy, test_2000_x.npy, test_2000_y.npy).
import * as path from 'node:path';
import { registerCalibrator } from '@qdeploy/core';
import calibrators from '@qdeploy/calibrators';
import { benchReference } from '@qdeploy/backend-reference';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
await calibrators.register({ container: undefined, registerCalibrator, registerBackend: () => {} });
const root = path.resolve(import.meta.dirname, '../..');
const rows = await benchReference({
  root,
  calibrator: opt('calibrator') ?? 'minmax',
  threads: opt('threads') ? Number(opt('threads')) : undefined,
  iterations: opt('iterations') ? Number(opt('iterations')) : undefined,
  quantConfig: args.includes('--symmetric') ? { activation: { symmetric: true } } : undefined,
});
if (args.includes('--json')) {
  console.log(JSON.stringify(rows, null, 2));
} else {
  const pct = (x) => (x === undefined ? '' : `${(100 * x).toFixed(2)}`);
  const table = rows.map((r) => ({
    model: r.model,
    batch: r.batch,
    'FP32 ms': r.fp32Ms.toFixed(3),
    'INT8 ms': r.int8Ms.toFixed(3),
    speedup: `${r.speedup.toFixed(2)}×`,
    'FP32 top-1': pct(r.fp32Top1),
    'INT8 top-1': pct(r.int8Top1),
    'Δ points': r.deltaPoints === undefined ? '' : r.deltaPoints.toFixed(2),
    agreement: pct(r.agreement),
    'SQNR dB': r.sqnrDb === undefined ? '' : r.sqnrDb.toFixed(1),
  }));
  console.table(table);
  console.log(`calibrator ${rows[0]?.calibrator}; integer kernels: ${[...new Set(rows.map((r) => `${r.model}: ${r.kernels}; float: ${r.floatOps}`))].join(' | ')}`);
}
