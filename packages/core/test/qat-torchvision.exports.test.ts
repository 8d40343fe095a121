// QAT on the real torchvision exports (../shared/fixtures, 224×224): the training step builds
// and runs on every architecture (SiLU and squeeze-excitation in EfficientNet-B0, the packed
// q/k/v slices of ViT-S/16's attention, whose offsets the export computes from Shape), the
// weights move, and the export keeps the PTQ placement.
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import calibrators from '@qdeploy/calibrators';
import { TENSORRT_PATTERNS } from '@qdeploy/backend-tensorrt';
import { calibrate, insertQdq, loadModel, prepareQat, transform, usePlugin, type Model } from '../src/index.js';
import { randomInput } from '../src/testing/index.js';
import { shared } from './helpers/fixtures.js';

const B = 2;
const placement = (m: Model) => m.graph.nodes.filter((n) => n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear').map((n) => `${n.opType}:${n.input(0)!.name}`).sort();

beforeAll(async () => {
  await usePlugin(calibrators);
});

describe('QAT on the real torchvision exports', () => {
  for (const name of ['resnet18_bn', 'mobilenet_v2_bn', 'efficientnet_b0_bn', 'vit_s16_torchvision']) {
    it(`${name}: two training steps, finite losses, moved weights, the PTQ placement exported`, async () => {
      const { model, matches } = transform(loadModel(shared(`${name}.onnx`)), { patterns: TENSORRT_PATTERNS });
      const q = insertQdq(model, matches);
      const input = model.graph.inputs.find((v) => !v.isInitializer)!.name;
      const x = (seed: number) => new ort.Tensor('float32', randomInput([B, 3, 224, 224], seed), [B, 3, 224, 224]);
      await calibrate(q, async (run) => run(x(1)), { calibrator: 'minmax', progress: false });
      const before = q.toExportModel({ quiet: true });
      // The last conv before the head: on random images EfficientNet-B0's first layers barely reach the loss (a finite difference agrees).
      const weight = q.weightQuantizers().at(-2)!.tensor.name;
      const w0 = Float32Array.from(q.model.graph.value(weight)!.initializer!.toFloat32());
      const qat = await prepareQat(q, { batchSize: B, loss: 'cross-entropy', workers: 1 });
      for (let i = 0; i < 2; i++) expect(Number.isFinite(await qat.step({ [input]: x(2 + i) }, Int32Array.from([i, i + 7])))).toBe(true);
      const after = qat.model;
      expect(placement(after.toExportModel({ quiet: true }))).toEqual(placement(before));
      const w1 = after.model.graph.value(weight)!.initializer!.toFloat32();
      expect(w1.some((v, i) => v !== w0[i])).toBe(true);
      await qat.release();
    }, 120_000);
  }
});
