#!/usr/bin/env node
// Where a QAT step's time goes against the FP32 inference, one thread, both under
// onnxruntime's profiler (prepareQat's defaults as in qat.mjs: W8A8, learned activation
// scales, cross-entropy). Kernel times are medians over the profiled runs:
// - inference: every kernel of the FP32 session (convs fused and prepacked);
// - forward / backward compute: the step's Conv, ConvTranspose, Gemm and MatMul kernels
//   (any domain), backward when autodiff built them (a `_Grad` node name);
// - other: every other kernel of the step (activations, fake quant, masks, reorders,
//   slices, sums); overhead: the step's session run minus its kernels.
// floor = (inference + backward compute) / inference: the step's ratio if its forward ran
// at inference's speed and nothing but the backward's products cost anything.
// Prints one JSON line. Usage: node scripts/bench/qat-floor.mjs <model.onnx> [batch=32] [runs=10]
import * as ort from 'onnxruntime-node';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { modelToBytes, prepareQat } from '@qdeploy/core';
import { benchSetup } from './qat-setup.mjs';

const [file, batchArg = '32', runsArg = '10'] = process.argv.slice(2);
const B = Number(batchArg), runs = Number(runsArg);
const { original, quantized, x, labels, logits } = await benchSetup(file, B);
const COMPUTE = new Set(['Conv', 'FusedConv', 'ConvTranspose', 'Gemm', 'FusedGemm', 'MatMul', 'FusedMatMul']);

/** Runs `run` warm-up + `runs` times with a profiling session made by `open(options)`, released by `close`; per-run kernel sums by class. */
async function profiled(open, run, close, classify) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qdeploy-floor-'));
  const handle = await open({ intraOpNumThreads: 1, enableProfiling: true, profileFilePrefix: path.join(dir, 'p') });
  for (let i = 0; i < 3 + runs; i++) await run(handle);
  await close(handle);
  const events = JSON.parse(fs.readFileSync(path.join(dir, fs.readdirSync(dir)[0]), 'utf8'));
  fs.rmSync(dir, { recursive: true, force: true });
  const sessionRuns = events.filter((e) => e.name === 'model_run').slice(-runs);
  const perRun = sessionRuns.map((r) => {
    const sums = { run: r.dur, kernels: 0, nodes: 0 };
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < r.ts || e.ts > r.ts + r.dur) continue;
      const k = classify(e);
      sums[k] = (sums[k] ?? 0) + e.dur;
      sums.kernels += e.dur;
      sums.nodes++;
    }
    return sums;
  });
  const median = (key) => {
    const v = perRun.map((s) => s[key] ?? 0).sort((a, b) => a - b);
    return v[v.length >> 1] / 1000;
  };
  return median;
}

const infer = await profiled(
  (o) => ort.InferenceSession.create(modelToBytes(original), { graphOptimizationLevel: 'all', ...o }),
  (s) => s.run({ [s.inputNames[0]]: x }),
  (s) => s.release(),
  () => 'all',
);
const step = await profiled(
  (o) => prepareQat(quantized, { batchSize: B, sessionOptions: o, optimizer: { type: 'adamw', lr: 1e-5 }, loss: logits ? 'cross-entropy' : 'output-distillation' }),
  (qat) => qat.step(x, logits ? labels : undefined),
  (qat) => qat.release(),
  (e) => (COMPUTE.has(e.args.op_name) ? (e.name.includes('_Grad') ? 'backward' : 'forward') : 'other'),
);
const inferMs = infer('kernels');
const r = (v) => Number(v.toFixed(2));
console.log(JSON.stringify({
  model: file.split('/').at(-1),
  batch: B,
  inferMs: r(inferMs),
  stepKernelMs: r(step('kernels')),
  forwardComputeMs: r(step('forward')),
  backwardComputeMs: r(step('backward')),
  otherMs: r(step('other')),
  overheadMs: r(step('run') - step('kernels')),
  nodes: step('nodes') * 1000,
  floor: r((inferMs + step('backward')) / inferMs),
}));
