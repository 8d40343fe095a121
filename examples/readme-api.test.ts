// The README's API walk-through, run as written (paths swapped for the bundled example files).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { loadModel, transform, insertQdq, calibrate, saveModel, toForwardLoop, npySource, usePlugin } from '@qdeploy/core';
import { TENSORRT_PATTERNS } from '@qdeploy/backend-tensorrt';
import calibrators from '@qdeploy/calibrators';

const here = path.dirname(new URL(import.meta.url).pathname);

it('runs the README API example end to end', async () => {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'qdeploy-readme-')), 'resnet.int8.onnx');
  await usePlugin(calibrators);

  const model = loadModel(path.join(here, '../fixtures/fmnist_resnet_bn.onnx'));
  const { model: fused, matches } = transform(model, { patterns: TENSORRT_PATTERNS });
  const quantized = insertQdq(fused, matches, { config: { weight: { perChannel: true } } });
  await calibrate(quantized, toForwardLoop(await npySource(path.join(here, 'fashion-mnist/data/calib_256.npy'), { batchSize: 32 })), { method: 'mse', progress: false });
  await saveModel(quantized, out);

  expect(quantized.uncalibrated()).toEqual([]);
  const back = loadModel(out);
  expect(back.graph.opCounts().QuantizeLinear).toBe(quantized.counts().QuantStub);
  expect(model.graph.nodesOf('BatchNormalization').length).toBe(15); // the input model is untouched
});
