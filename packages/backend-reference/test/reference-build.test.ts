import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateModel, loadModel, openNpy, qdeployContainer, registerBackend, resolveBackend, saveModel, transform, insertQdq, calibrate, npySource, toForwardLoop } from '@qdeploy/core';
import plugin, { REFERENCE_PATTERNS, benchReference, buildReference, checkReferencePlacement, quantizeForReference, referenceBackend } from '../src/index.js';
import { data, tmpDir, useCalibrators, vendored } from './helpers.js';

const dir = tmpDir();
const CALIB = data('calib_64.npy');
const TEST_X = data('test_256_x.npy');
const TEST_Y = data('test_256_y.npy');
const int8 = { resnet: path.join(dir, 'resnet.int8.onnx'), mobilenet: path.join(dir, 'mobilenet.int8.onnx') };

beforeAll(async () => {
  await useCalibrators();
  for (const [name, file] of [['resnet', 'fmnist_resnet.onnx'], ['mobilenet', 'fmnist_mobilenet.onnx']] as const) {
    const q = await quantizeForReference(vendored(file), { calib: CALIB, calibrator: 'minmax' });
    await saveModel(q.qdq, int8[name]);
  }
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Top-1 of a model on the vendored slice, computed with onnxruntime directly. */
async function directTop1(model: string): Promise<number> {
  const x = openNpy(TEST_X);
  const y = openNpy(TEST_Y);
  const s = await ort.InferenceSession.create(model);
  const out = await s.run({ input: new ort.Tensor('float32', x.readRows(0, x.rows) as Float32Array, [x.rows, 1, 28, 28]) });
  const logits = out.logits!.data as Float32Array;
  const labels = y.readRows(0, y.rows) as BigInt64Array;
  let correct = 0;
  for (let i = 0; i < x.rows; i++) {
    const row = Array.from(logits.subarray(i * 10, i * 10 + 10));
    if (BigInt(row.indexOf(Math.max(...row))) === labels[i]) correct++;
  }
  await s.release();
  x.close();
  y.close();
  return correct / 256;
}

describe('onnxruntime fuses the reference QDQ placement', () => {
  it('ResNet: every Conv becomes QLinearConv, every residual Add QLinearAdd; only the classifier Gemm stays float', async () => {
    const saved = path.join(dir, 'resnet.opt.onnx');
    const r = await buildReference(int8.resnet, { optimizedModelFilePath: saved });
    expect(r.fusions.integer).toEqual({ QLinearConv: 15, QLinearAdd: 6, QLinearGlobalAveragePool: 1 });
    expect(r.fusions.float).toEqual({ Gemm: 1 });
    expect(r.fusions.quantizeLinear).toBe(1); // the input image
    expect(r.output).toBe(saved);
    expect(fs.existsSync(saved)).toBe(true);
    expect(r.summary.join('\n')).toMatch(/integer kernels: QLinearAdd ×6, QLinearConv ×15, QLinearGlobalAveragePool ×1/);
    // No leftover float Conv in what onnxruntime runs.
    const ops = loadModel(saved).graph.opCounts();
    expect(ops.Conv ?? 0).toBe(0);
    expect(ops.FusedConv ?? 0).toBe(0);
    // The placement checker agrees: nothing but the note about the float Gemm head.
    const findings = checkReferencePlacement(loadModel(int8.resnet));
    expect(findings.filter((f) => f.severity !== 'info')).toEqual([]);
    expect(findings.map((f) => f.code)).toEqual(['gemm-float-bias']);
  });

  it('MobileNet: depthwise and pointwise convs with ReLU6 all become QLinearConv', async () => {
    const r = await buildReference(int8.mobilenet);
    expect(r.fusions.integer).toEqual({ QLinearConv: 17, QLinearAdd: 2, QLinearGlobalAveragePool: 1 });
    expect(r.fusions.float).toEqual({ Gemm: 1 });
    expect(r.output).toBeUndefined();
  });

  it('symmetric int8 activations break the Conv+ReLU fusions (why the backend quantizes asymmetrically)', async () => {
    await useCalibrators();
    const { model, matches } = transform(loadModel(vendored('fmnist_resnet.onnx')), { patterns: REFERENCE_PATTERNS });
    const q = insertQdq(model, matches, { config: { ...referenceBackend.quantConfig, activation: { symmetric: true } } });
    await calibrate(q, toForwardLoop(await npySource(CALIB, { inputName: 'input' })), { calibrator: 'minmax', progress: false });
    const file = path.join(dir, 'resnet.sym.onnx');
    await saveModel(q.toExportModel(), file);
    const r = await buildReference(file);
    expect(r.fusions.integer.QLinearConv ?? 0).toBeLessThan(15);
    expect(r.fusions.float.FusedConv ?? r.fusions.float.Conv ?? 0).toBeGreaterThan(0);
    const codes = checkReferencePlacement(q.toExportModel()).map((f) => f.code);
    expect(codes.filter((c) => c === 'activation-not-foldable')).toHaveLength(13); // 7 Conv+ReLU, 6 Add+ReLU
  });
});

describe('accuracy on the vendored slice (256 test images)', () => {
  it('evaluateModel: FP32 top-1 equals the direct computation; INT8 follows FP32 closely', async () => {
    const fp32 = vendored('fmnist_resnet.onnx');
    const expected = await directTop1(fp32);
    expect(expected).toBe(243 / 256);
    const self = await evaluateModel(fp32, { data: TEST_X, labels: TEST_Y, ref: fp32, batchSize: 50, progress: false });
    expect(self).toMatchObject({ samples: 256, top1: expected, ref: { top1: expected, agreement: 1, sqnrDb: Infinity } });

    const r = await evaluateModel(int8.resnet, { data: TEST_X, labels: TEST_Y, ref: fp32, batchSize: 64, progress: false });
    expect(r.ref!.top1).toBe(expected);
    expect(r.top1).toBe(await directTop1(int8.resnet));
    expect(Math.abs(r.top1 - expected)).toBeLessThanOrEqual(2 / 256);
    expect(r.ref!.agreement).toBeGreaterThanOrEqual(0.98);
    expect(r.ref!.sqnrDb).toBeGreaterThan(30);
  });

  it('MobileNet INT8 follows FP32', async () => {
    const fp32 = vendored('fmnist_mobilenet.onnx');
    const r = await evaluateModel(int8.mobilenet, { data: TEST_X, labels: TEST_Y, ref: fp32, progress: false });
    expect(Math.abs(r.top1 - r.ref!.top1)).toBeLessThanOrEqual(3 / 256);
    expect(r.ref!.agreement).toBeGreaterThanOrEqual(0.97);
    expect(r.ref!.sqnrDb).toBeGreaterThan(25);
  });
});

describe('the backend plugin', () => {
  it('registers "reference" with asymmetric activations and per-channel symmetric weights', async () => {
    const seen: string[] = [];
    await plugin.register({ container: qdeployContainer, registerCalibrator: () => {}, registerBackend: (b) => { seen.push(b.name); registerBackend(b); } });
    expect(seen).toEqual(['reference']);
    const b = resolveBackend('reference');
    expect(b).toBe(referenceBackend);
    expect(b.patterns).toBe(REFERENCE_PATTERNS);
    expect(b.quantConfig).toMatchObject({ activation: { symmetric: false }, weight: { symmetric: true, perChannel: true } });
    expect(typeof b.build).toBe('function');
    await expect(buildReference(int8.resnet, { threads: 0 })).rejects.toThrow(/threads/);
  });

  it('benchReference returns one row per model and batch size', async () => {
    const rows = await benchReference({
      models: [vendored('fmnist_resnet.onnx')], calib: CALIB, testData: TEST_X, testLabels: TEST_Y,
      batchSizes: [1, 4], iterations: 3, calibrator: 'minmax',
    });
    expect(rows.map((r) => [r.model, r.batch])).toEqual([['fmnist_resnet.onnx', 1], ['fmnist_resnet.onnx', 4]]);
    for (const r of rows) {
      expect(r.fp32Ms).toBeGreaterThan(0);
      expect(r.speedup).toBeCloseTo(r.fp32Ms / r.int8Ms, 9);
      expect(r.fp32Top1).toBe(243 / 256);
      expect(r.kernels).toContain('QLinearConv ×15');
      expect(r.floatOps).toBe('Gemm ×1');
    }
  });
});
