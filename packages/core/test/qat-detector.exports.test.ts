// QAT on a detector (the yolov8n-like export in ../shared/fixtures: three raw heads, a
// nearest ×2 upsample in its neck): no class logits to put a cross-entropy or KL on, so the
// loss is output distillation, every head against the FP32 model's.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import calibrators from '@qdeploy/calibrators';
import { TENSORRT_PATTERNS } from '@qdeploy/backend-tensorrt';
import { calibrate, insertQdq, loadModel, prepareQat, transform, usePlugin, writeNpy, type QuantizedModel } from '../src/index.js';
import { randomInput } from '../src/testing/index.js';
import { shared } from './helpers/fixtures.js';
import { makeTmp, requireBuilt, runCli } from './fixtures/cli/helpers.js';

const DIMS = [2, 3, 320, 320];
const image = (seed: number) => new ort.Tensor('float32', randomInput(DIMS, seed), DIMS);

beforeAll(async () => {
  await usePlugin(calibrators);
});

async function quantized(): Promise<QuantizedModel> {
  const { model, matches } = transform(loadModel(shared('yolov8n_like_bn.onnx')), { patterns: TENSORRT_PATTERNS });
  const q = insertQdq(model, matches);
  await calibrate(q, async (run) => run(image(1)), { calibrator: 'minmax', progress: false });
  return q;
}

describe('QAT on a detector (yolov8n-like, three heads)', () => {
  it('output distillation reads every head (one teacher input each); two workers give one session\'s loss; the weights move', async () => {
    const [a, b] = [await quantized(), await quantized()];
    const one = await prepareQat(a, { batchSize: 2, loss: 'output-distillation', workers: 1 });
    const two = await prepareQat(b, { batchSize: 2, loss: 'output-distillation', workers: 2 });
    expect((await one.trainingGraph()).teachers.map((t) => t.output)).toEqual(['p3', 'p4', 'p5']);
    expect(two.workers).toBe(2);
    const weight = a.weightQuantizers().at(-1)!.tensor.name;
    const w0 = Float32Array.from(a.model.graph.value(weight)!.initializer!.toFloat32());
    const [l1, l2] = [await one.step(image(2)), await two.step(image(2))];
    expect(l1).toBeGreaterThan(0);
    expect(Math.abs(l1 - l2)).toBeLessThan(1e-3 * l1);
    const w1 = one.model.model.graph.value(weight)!.initializer!.toFloat32();
    expect(w1.some((v, i) => v !== w0[i])).toBe(true);
    // Stubs that TensorRT needs at one scale (Concat, Split, MaxPool groups) learned one scale, and it moved.
    const groups = one.model.scaleGroups();
    expect(groups.length).toBeGreaterThan(0);
    for (const grp of groups) expect(new Set(grp.stubs.map((st) => st.scale[0]))).toHaveProperty('size', 1);
    expect((await one.trainingGraph()).scales.some((sc) => sc.members.length > 1)).toBe(true);
    await Promise.all([one.release(), two.release()]);
  }, 120_000);

  it('qdeploy train without labels picks output distillation for a model without [batch, classes] logits', async () => {
    requireBuilt();
    const tmp = makeTmp('qat-detector');
    const data = path.join(tmp, 'x.npy');
    writeNpy(data, randomInput([4, 3, 320, 320], 5), [4, 3, 320, 320]);
    const out = path.join(tmp, 'yolo.qat.onnx');
    const r = await runCli(['train', shared('yolov8n_like_bn.onnx'), '-o', out, '--calib', data, '--data', data, '--epochs', '1', '--qat-batch-size', '2'], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/output-distillation, adamw, 1 epoch/);
    expect(fs.existsSync(out)).toBe(true);
  }, 150_000);
});
