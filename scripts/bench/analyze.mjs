// One `qdeploy analyze` measurement for npm run bench: the sensitivity analysis of the
// fmnist ResNet (vendored) on 256 test images vs one FP32 evaluation of the same batches
// (a plain onnxruntime session over the same transformed float graph). Prints one JSON line.
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { analyzeSensitivity, calibrate, insertQdq, loadModel, modelToBytes, openNpy, readBatches, resolveBackend, transform, usePlugin } from '@qdeploy/core';
import calibrators from '@qdeploy/calibrators';
import trt from '@qdeploy/backend-tensorrt';

const root = path.resolve(import.meta.dirname, '../..');
const bits = Number(process.argv[2] ?? 8);
await usePlugin(trt);
await usePlugin(calibrators);
const { model, matches } = transform(loadModel(path.join(root, 'fixtures/fmnist_resnet.onnx')), { patterns: resolveBackend('tensorrt').patterns });
const q = insertQdq(model, matches, { config: { activation: { nBits: bits }, weight: { nBits: bits } } });
const calib = openNpy(path.join(root, 'examples/fashion-mnist/data/calib_256.npy'));
await calibrate(q, async (run) => {
  for (let i = 0; i < 256; i += 64) await run(new ort.Tensor('float32', calib.readRows(i, 64), [64, 1, 28, 28]));
}, { calibrator: 'minmax', progress: false });
const modelInputs = [{ name: 'input', dims: [-1, 1, 28, 28], type: 'float32' }];
const data = await readBatches(path.join(root, 'examples/fashion-mnist/data/test_500_x.npy'), { labels: path.join(root, 'examples/fashion-mnist/data/test_500_y.npy'), limit: 256, batchSize: 64, modelInputs });

// One FP32 evaluation: session creation + every batch once (what "evaluate the model" costs).
let t = performance.now();
const s = await ort.InferenceSession.create(modelToBytes(model), { graphOptimizationLevel: 'all' });
const setupMs = performance.now() - t;
for (const feed of data.batches) await s.run(feed); // warm-up pass
t = performance.now();
for (const feed of data.batches) await s.run(feed);
const fp32Ms = performance.now() - t;
await s.release();

t = performance.now();
const r = await analyzeSensitivity(q, data);
const analyzeMs = performance.now() - t;
const configurations = r.runs / data.batches.length;
console.log(JSON.stringify({ bits, samples: data.samples, matches: r.matches.length, configurations, fp32Ms, fp32SetupMs: setupMs, analyzeMs, ratio: analyzeMs / fp32Ms, perConfiguration: analyzeMs / fp32Ms / configurations, totalMs: analyzeMs }));
