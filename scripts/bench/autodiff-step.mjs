// A forward + backward step (the autodiff gradient graph: weights fed as inputs, softmax
// cross-entropy loss, every weight's gradient as an output) vs an FP32 inference of the
// same batch (constant weights), same session options. Prints one JSON line per model.
// Usage: node scripts/bench/autodiff-step.mjs [--profile] [batch=32] [runs=15] [model …]
// --profile: onnxruntime's profiler over 6 steps instead, kernel time by op (forward /
// backward, backward by builder node) — where a step's time goes.
import * as ort from 'onnxruntime-node';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataType, buildGradientGraph, loadModel, modelToBytes, staticShapes } from '@qdeploy/core';
import { randomInput } from '@qdeploy/core/testing';

const root = path.resolve(import.meta.dirname, '../..');
const argv = process.argv.slice(2);
const profile = argv[0] === '--profile' ? argv.shift() : null;
const [batchArg, runsArg, ...names] = argv;
const batch = Number(batchArg ?? 32);
const runs = Number(runsArg ?? 15);
const models = names.length ? names : ['fmnist_resnet', 'fmnist_mobilenet', 'fmnist_vit_small'];
const options = { graphOptimizationLevel: 'all', logSeverityLevel: 3 };

async function medianMs(session, feeds) {
  for (let i = 0; i < 3; i++) await session.run(feeds);
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(runs / 2)];
}

/** The fixture as a training graph: float weights → graph inputs, labels input, SCE loss. */
function trainingGraph(file, x) {
  const model = loadModel(file);
  const g = model.graph;
  const feeds = { [g.inputs[0].name]: x };
  const weights = [];
  for (const v of g.initializers()) {
    const t = v.initializer;
    if (t.dataType !== DataType.FLOAT || t.size < 2) continue;
    feeds[v.name] = new ort.Tensor('float32', t.toFloat32Copy(), [...t.dims]);
    v.type = { tensorType: { elemType: DataType.FLOAT, shape: { dim: t.dims.map((d) => ({ dimValue: d })) } } };
    v.initializer = null;
    g.inputs.push(v);
    weights.push(v.name);
  }
  const labels = g.getOrCreateValue('labels');
  labels.type = { tensorType: { elemType: DataType.INT64, shape: { dim: [{ dimValue: batch }] } } };
  g.inputs.push(labels);
  feeds.labels = new ort.Tensor('int64', BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % 10)), [batch]);
  g.addNode({ opType: 'SoftmaxCrossEntropyLoss', name: 'loss', inputs: [g.outputs[0], labels], outputs: [g.getOrCreateValue('loss')] });
  g.outputs = [g.value('loss')];
  return { model, feeds, weights };
}

async function profileStep(name, model, feeds) {
  const prefix = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'qdeploy-prof-')), 'step');
  const s = await ort.InferenceSession.create(modelToBytes(model), { ...options, enableProfiling: true, profileFilePrefix: prefix });
  for (let i = 0; i < 6; i++) await s.run(feeds);
  await s.release();
  const dir = path.dirname(prefix);
  const file = path.join(dir, fs.readdirSync(dir)[0]);
  const events = JSON.parse(fs.readFileSync(file, 'utf8')).filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
  fs.rmSync(dir, { recursive: true });
  const byKey = new Map();
  let total = 0;
  for (const e of events) {
    const node = e.name.replace(/_kernel_time$/, '');
    const key = node.includes('_Grad/') ? `backward ${e.args.op_name} (${node.split('_Grad/')[1].replace(/_\d+(?=\/|$)/g, '')})` : `forward ${e.args.op_name}`;
    byKey.set(key, (byKey.get(key) ?? 0) + e.dur);
    total += e.dur;
  }
  console.log(`${name}, batch ${batch}: kernel time per step ${(total / 6000).toFixed(1)} ms`);
  for (const [k, v] of [...byKey].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`  ${k.padEnd(56)} ${(v / 6000).toFixed(1).padStart(8)} ms ${((100 * v) / total).toFixed(1).padStart(5)} %`);
}

for (const name of models) {
  const file = path.join(root, 'fixtures', `${name}.onnx`);
  const input = loadModel(file).graph.inputs[0];
  const dims = input.shape.map((d) => (typeof d === 'number' ? d : batch));
  const x = new ort.Tensor('float32', randomInput(dims, 1), dims);
  const { model, feeds, weights } = trainingGraph(file, x);
  const shapes = await staticShapes(model, feeds);
  const t0 = performance.now();
  buildGradientGraph(model.graph, { loss: 'loss', wrt: weights, shapes });
  const buildMs = performance.now() - t0;
  if (profile) {
    await profileStep(name, model, feeds);
    continue;
  }
  const infer = await ort.InferenceSession.create(file, options);
  const inferMs = await medianMs(infer, { [input.name]: x });
  await infer.release();
  const step = await ort.InferenceSession.create(modelToBytes(model), options);
  const stepMs = await medianMs(step, feeds);
  await step.release();
  console.log(JSON.stringify({ model: name, batch, runs, inferMs, stepMs, ratio: stepMs / inferMs, buildMs, backwardNodes: model.graph.nodes.filter((n) => n.name.includes('_Grad/')).length }));
}
