import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { calibrate, countMatches, insertQdq, loadModel, registerCalibrator, transform } from '@qdeploy/core';
import { registerAll } from '@qdeploy/calibrators';
import { TENSORRT_PATTERNS, checkPlacement } from '../src/index.js';
import { maxRelativeError, randomInput, runModel, shared } from './helpers.js';

registerAll(registerCalibrator);

// PyTorch's YOLOv8-style export (BatchNorm kept, random weights, outputs p3/p4/p5).
const YOLO = () => shared('yolov8n_like_bn.onnx');
const images = (seed: number, n = 1) => new ort.Tensor('float32', randomInput([n, 3, 320, 320], seed), [n, 3, 320, 320]);

describe('yolov8n_like_bn: detection placement', () => {
  const { model, matches, unmatched } = transform(loadModel(YOLO()), { patterns: TENSORRT_PATTERNS });

  it('matches every node: 51 SiLU convs, 6 bottleneck Adds, 16 feature Concats, 8 Splits, SPPF, 2 Resizes, 6 head convs', () => {
    expect(unmatched.filter((n) => n.opType !== 'Concat')).toEqual([]);
    expect(countMatches(matches)).toEqual({ ConvBNReLU: 57, Split: 8, ActivationAdd: 6, Concat: 16, MaxPool: 3, NearestResize: 2, OutputConv: 6 });
    // The two Concats left build the Resize's target sizes from constants.
    expect(unmatched.map((n) => n.name).sort()).toEqual(['/up/Concat', '/up_1/Concat']);
  });

  it('keeps FP32 outputs after transform', async () => {
    const [a, b] = [await runModel(loadModel(YOLO()), { images: images(1) }), await runModel(model, { images: images(1) })];
    for (const k of ['p3', 'p4', 'p5']) expect(maxRelativeError(a[k]!, b[k]!)).toBeLessThan(1e-4);
  });

  it('a calibrated export: one scale per group, checker clean, runs in onnxruntime', async () => {
    const q = insertQdq(model, matches);
    // C2f Split/Concat groups (8) and the two neck groups joined through Resize + Concat.
    expect(q.scaleGroups()).toHaveLength(10);
    await calibrate(q, async (run) => { for (const seed of [1, 2]) await run(images(seed)); }, { calibrator: 'minmax', progress: false });
    for (const g of q.scaleGroups()) expect(new Set(g.stubs.map((s) => s.scale[0])).size).toBe(1);
    // The head convs stay float; everything else quantized is a conv with its input Q.
    expect(q.weightQuantizers()).toHaveLength(57);
    const exported = q.toExportModel();
    const report = checkPlacement(exported);
    expect(report.findings.filter((f) => f.severity !== 'info')).toEqual([]);
    expect(report.summary.int8Groups).toBe(57);
    const out = await runModel(exported, { images: images(3) });
    const ref = await runModel(model, { images: images(3) });
    for (const k of ['p3', 'p4', 'p5']) {
      expect(out[k]!.every(Number.isFinite)).toBe(true);
      // INT8 noise, not a broken graph: the outputs stay close to FP32's.
      expect(maxRelativeError(ref[k]!, out[k]!)).toBeLessThan(0.25);
    }
  });
});
