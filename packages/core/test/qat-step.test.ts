// prepareQat on the vendored Fashion-MNIST models: steps lower the loss, the switches
// rebuild the graph, the export round-trips with the trained weights.
import * as ort from 'onnxruntime-node';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  calibrate, disableFakeQuant, enableFakeQuant, freezeBnStats, insertQdq, loadModel, modelToBytes, openNpy, prepareQat, transform, usePlugin,
  MissingGradientError, type ForwardLoop, type QuantizedModel,
} from '../src/index.js';
import calibrators from '@qdeploy/calibrators';
import { TENSORRT_PATTERNS } from '@qdeploy/backend-tensorrt';
import { repoRoot, vendored } from './helpers/fixtures.js';

const B = 16;
const xs = openNpy(path.join(repoRoot(), 'examples/fashion-mnist/data/test_500_x.npy'));
const ys = openNpy(path.join(repoRoot(), 'examples/fashion-mnist/data/test_500_y.npy'));
const batch = (i: number) => ({
  x: new ort.Tensor('float32', xs.readRows(i * B, B) as Float32Array, [B, 1, 28, 28]),
  y: ys.readRows(i * B, B) as BigInt64Array,
});
const loop: ForwardLoop = async (run) => {
  for (let i = 0; i < 64; i += 32) await run(new ort.Tensor('float32', xs.readRows(i, 32) as Float32Array, [32, 1, 28, 28]));
};

beforeAll(async () => {
  await usePlugin(calibrators);
});

async function quantized(file: string, nBits = 8, patterns = TENSORRT_PATTERNS): Promise<QuantizedModel> {
  const { model, matches } = transform(loadModel(vendored(file)), { patterns });
  const q = insertQdq(model, matches, { config: { activation: { nBits }, weight: { nBits, perChannel: true } } });
  await calibrate(q, loop, { calibrator: 'minmax', progress: false });
  return q;
}

describe('prepareQat', () => {
  it('a few steps on one batch lower the loss (ResNet, W4A4, AdamW)', async () => {
    const q = await quantized('fmnist_resnet.onnx', 4);
    const qat = await prepareQat(q, { batchSize: B, optimizer: { type: 'adamw', lr: 1e-4 } });
    const { x, y } = batch(0);
    const losses: number[] = [];
    for (let i = 0; i < 4; i++) losses.push(await qat.step(x, y));
    expect(losses[3]!).toBeLessThan(losses[0]! * 0.5);
    await qat.release();
  }, 60_000);
});
