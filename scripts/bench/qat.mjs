#!/usr/bin/env node
// One QAT bench measurement in its own process: a training step (forward + backward +
// AdamW update, W8A8 fake quant, cross-entropy (output distillation for a model without
// [batch, classes] logits, which runs the FP32 teacher each step too), prepareQat's defaults: learned activation
// scales unless QDEPLOY_BENCH_LEARN_SCALES=0, one data-parallel worker per core unless the
// session options set intraOpNumThreads) vs an FP32 inference of the same batch, same
// session options; medians of 3 blocks of runs of each. Then `steps` more training steps to
// see whether memory stays flat. Prints one JSON line.
// Session options come from QDEPLOY_BENCH_SESSION (JSON, e.g. '{"intraOpNumThreads":1}'; default onnxruntime's).
// Usage: node scripts/bench/qat.mjs <model.onnx> [batch=32] [runs=15] [steps=200]
import * as ort from 'onnxruntime-node';
import { modelToBytes, prepareQat } from '@qdeploy/core';
import { benchSetup } from './qat-setup.mjs';

const [file, batchArg = '32', runsArg = '15', stepsArg = '200'] = process.argv.slice(2);
const sessionOptions = JSON.parse(process.env.QDEPLOY_BENCH_SESSION ?? '{}');
const B = Number(batchArg), runs = Number(runsArg), steps = Number(stepsArg);
const { original, quantized: q, x, labels, logits } = await benchSetup(file, B);
const fp32 = await ort.InferenceSession.create(modelToBytes(original), { graphOptimizationLevel: 'all', ...sessionOptions });
const qat = await prepareQat(q, { batchSize: B, sessionOptions, learnScales: process.env.QDEPLOY_BENCH_LEARN_SCALES !== '0', optimizer: { type: 'adamw', lr: 1e-5 }, loss: logits ? 'cross-entropy' : 'output-distillation' });

const median = (a) => [...a].sort((p, r) => p - r)[Math.floor(a.length / 2)];
const time = async (f) => {
  const t = performance.now();
  await f();
  return performance.now() - t;
};
for (let i = 0; i < 3; i++) {
  await fp32.run({ [fp32.inputNames[0]]: x });
  await qat.step(x, logits ? labels : undefined);
}
const inferMs = [], stepMs = [];
// In blocks of one session at a time, not interleaved: after a run, a session's idle pool
// threads spin for a while, and on a 2-core machine they took the cores from the other
// session's next run (interleaved, FP32 ResNet inference read 45 ms; alone, 23–25 ms).
for (let block = 0; block < 3; block++) {
  for (let i = 0; i < runs; i++) inferMs.push(await time(() => fp32.run({ [fp32.inputNames[0]]: x })));
  for (let i = 0; i < runs; i++) stepMs.push(await time(() => qat.step(x, logits ? labels : undefined)));
}
const rss = () => process.memoryUsage().rss / 2 ** 20;
const rssAt = [];
for (let i = 0; i < steps; i++) {
  await qat.step(x, logits ? labels : undefined);
  if (i === Math.floor(steps / 10) || i === steps - 1) rssAt.push(rss());
}
const graph = await qat.trainingGraph();
console.log(JSON.stringify({
  model: file.split('/').at(-1),
  loss: logits ? 'cross-entropy' : 'output-distillation',
  batch: B,
  inferMs: median(inferMs),
  stepMs: median(stepMs),
  ratio: median(stepMs) / median(inferMs),
  rssEarlyMiB: rssAt[0],
  rssLateMiB: rssAt[1],
  steps,
  nodes: graph.model.graph.nodes.length,
  params: graph.params.length,
}));
await qat.release();
