import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  DataType, calibrate, evaluateModel, inferElemTypes, insertQdq, loadModel, measureFloatRanges, modelToBytes, npySource,
  registerCalibrator, toForwardLoop, toStronglyTyped, transform, type Model, type StronglyTypedReport,
} from '@qdeploy/core';
import { registerAll } from '@qdeploy/calibrators';
import { checkPlacement, tensorrtPatterns } from '../src/index.js';
import { randomInput, shared } from './helpers.js';

registerAll(registerCalibrator);

/** Every node that computes in float: in FP16 unless the policy kept it (then FP32), Casts aside. */
function expectFp16ExceptPolicy(model: Model, report: StronglyTypedReport): void {
  const types = inferElemTypes(model.graph);
  const kept = new Set(report.kept.map((k) => k.node));
  const wrong: string[] = [];
  for (const n of model.graph.nodes) {
    if (n.opType === 'Cast' || n.opType === 'QuantizeLinear') continue;
    for (const o of n.outputs) {
      const t = types.get(o);
      if (t !== DataType.FLOAT && t !== DataType.FLOAT16) continue;
      const want = kept.has(n.name) ? DataType.FLOAT : DataType.FLOAT16;
      if (t !== want) wrong.push(`${n.opType} ${n.name}: ${t}`);
    }
  }
  expect(wrong).toEqual([]);
}

const FMNIST = ['fmnist_resnet.onnx', 'fmnist_mobilenet.onnx', 'fmnist_vit_small.onnx'];
const calibLoop = async () => toForwardLoop(await npySource(shared('calib_512.npy'), { batchSize: 64 }));

describe('strongly typed FP16 export of the Fashion-MNIST fixtures', () => {
  for (const file of FMNIST) {
    it(`${file}: FP16 except the policy ops, check clean, top-1 with FP16 arithmetic within 0.2 points of the FP32-float export`, async () => {
      const patterns = tensorrtPatterns(file.includes('vit') ? { minLinearSize: 0 } : {});
      const { model, matches } = transform(loadModel(shared(file)), { patterns });
      const q = insertQdq(model, matches);
      await calibrate(q, await calibLoop(), { calibrator: 'mse', limit: 512, progress: false });
      const ranges = await measureFloatRanges(model, await calibLoop(), { limit: 512 });
      const fp32 = q.toExportModel();
      const { model: fp16, report } = toStronglyTyped(fp32, { float: 'fp16', ranges });
      expectFp16ExceptPolicy(fp16, report);
      // Only LayerNorm (the ViT's) stays FP32 on these; nothing exceeds FP16's range.
      expect(new Set(report.kept.map((k) => k.rule))).toEqual(new Set(file.includes('vit') ? ['layernorm'] : []));
      expect(report.outOfRange).toEqual([]);
      expect(checkPlacement(fp16).findings.filter((f) => f.severity !== 'info')).toEqual([]);
      const data = { data: shared('test_2000_x.npy'), labels: shared('test_2000_y.npy'), progress: false };
      const base = await evaluateModel(modelToBytes(fp32), data);
      // As `qdeploy eval` runs a strongly typed model: without onnxruntime's graph optimisations.
      const typed = await evaluateModel(modelToBytes(fp16), { ...data, sessionOptions: { graphOptimizationLevel: 'disabled', logSeverityLevel: 3 } });
      expect(Math.abs(typed.top1 - base.top1)).toBeLessThanOrEqual(0.002);
    }, 120_000);
  }
});

describe('strongly typed FP16 export of the PyTorch exports (structure, load, check)', () => {
  const CASES: [string, number[], string][] = [
    ['resnet18_bn.onnx', [1, 3, 224, 224], 'input'],
    ['mobilenet_v2_bn.onnx', [1, 3, 224, 224], 'input'],
    ['efficientnet_b0_bn.onnx', [1, 3, 224, 224], 'input'],
    ['vit_s16_torchvision.onnx', [1, 3, 224, 224], 'input'],
    ['yolov8n_like_bn.onnx', [1, 3, 320, 320], 'images'],
  ];
  for (const [file, dims, input] of CASES) {
    it(`${file}: FP16 except the policy ops, loads and runs in onnxruntime, check clean`, async () => {
      const { model, matches } = transform(loadModel(shared(file)), { patterns: tensorrtPatterns() });
      const q = insertQdq(model, matches);
      const x = () => new ort.Tensor('float32', randomInput(dims, 3), dims);
      await calibrate(q, async (run) => { await run({ [input]: x() }); }, { calibrator: 'minmax', progress: false });
      const ranges = await measureFloatRanges(model, async (run) => { await run({ [input]: x() }); });
      const { model: fp16, report } = toStronglyTyped(q.toExportModel(), { float: 'fp16', ranges });
      expectFp16ExceptPolicy(fp16, report);
      expect(report.lowNodes).toBeGreaterThan(report.fp32Nodes);
      expect(checkPlacement(fp16).findings.filter((f) => f.severity !== 'info')).toEqual([]);
      const s = await ort.InferenceSession.create(modelToBytes(fp16), { graphOptimizationLevel: 'disabled', logSeverityLevel: 3 });
      const out = await s.run({ [input]: x() });
      for (const t of Object.values(out)) {
        expect(t.type).toBe('float32');
        expect((t.data as Float32Array).every(Number.isFinite)).toBe(true);
      }
      await s.release();
    }, 120_000);
  }
});
