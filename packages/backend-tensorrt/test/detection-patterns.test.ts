import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { calibrate, countMatches, insertQdq, registerCalibrator, transform, type QuantizedModel } from '@qdeploy/core';
import { registerAll } from '@qdeploy/calibrators';
import { TENSORRT_PATTERNS, checkPlacement } from '../src/index.js';
import { buildYoloLike } from '../src/testing/index.js';
import { maxRelativeError, randomInput, runModel } from './helpers.js';

registerAll(registerCalibrator);

const SIZE = 32;
const feed = (seed: number, n = 2) => ({ images: new ort.Tensor('float32', randomInput([n, 3, SIZE, SIZE], seed), [n, 3, SIZE, SIZE]) });

function quantized(): QuantizedModel {
  const { model, matches } = transform(buildYoloLike({ size: SIZE }), { patterns: TENSORRT_PATTERNS });
  return insertQdq(model, matches);
}

const stubNames = (q: QuantizedModel) => q.stubs().map((s) => s.tensor.name);

describe('detection patterns on a generated YOLO-like graph', () => {
  it('claims every node: Concat, channel Split, MaxPool chain, nearest Resize, bottleneck Add, head convs', () => {
    const { matches, unmatched } = transform(buildYoloLike({ size: SIZE }), { patterns: TENSORRT_PATTERNS });
    expect(unmatched).toEqual([]);
    expect(countMatches(matches)).toEqual({
      // 12 Conv-BN-SiLU blocks, the head's two SiLU convs, ConvTranspose → ReLU.
      ConvBNReLU: 14,
      Split: 1,
      ActivationAdd: 1,
      // C2f, SPPF, upsample, ConvTranspose path, and the head's output Concat.
      Concat: 5,
      MaxPool: 3,
      NearestResize: 1,
      OutputConv: 2,
    });
  });

  it('keeps FP32 outputs after transform', async () => {
    const original = buildYoloLike({ size: SIZE });
    const { model } = transform(original, { patterns: TENSORRT_PATTERNS });
    const [a, b] = [await runModel(original, feed(3)), await runModel(model, feed(3))];
    for (const k of ['p3', 'p5']) expect(maxRelativeError(a[k]!, b[k]!)).toBeLessThan(1e-4);
  });

  it('places Q/DQ as TensorRT wants: both inputs of the bottleneck Add, nothing on the head convs, ConvTranspose weights on axis 1', () => {
    const q = quantized();
    const names = stubNames(q);
    // Bottleneck: the activation side and the skip side of the Add.
    expect(names).toContain('c2f.m.b/Mul_output_0');
    expect(names).toContain('c2f/Split_output_1');
    const add = q.stubs().find((s) => s.tensor.name === 'c2f.m.b/Mul_output_0')!;
    expect(add.uses.map((u) => u.node.opType)).toEqual(['Add']);
    // Head output convs stay float: no stub feeds them, their weights stay float.
    const heads = q.matches.filter((m) => m.pattern.name === 'OutputConv');
    expect(heads.map((m) => m.anchor.name).sort()).toEqual(['head.box/Conv', 'head.cls/Conv']);
    for (const h of heads) expect(q.quantizersOf(h)).toEqual([]);
    expect(q.weightQuantizers().find((w) => w.tensor.name === 'deconv.weight')?.axis).toBe(1);
    // Concat, MaxPool, Resize, Split ask for no Q/DQ of their own.
    for (const s of q.stubs()) for (const m of s.matches) expect(['ConvBNReLU', 'ActivationAdd']).toContain(m.pattern.name);
  });

  it('joins the stubs TensorRT needs equal into scale groups (transitively through Resize and Concat)', () => {
    const groups = quantized().scaleGroups().map((g) => g.stubs.map((s) => s.tensor.name).sort());
    expect(groups).toEqual([
      // C2f: the split half read by the bottleneck and the Concat's output.
      ['c2f/Concat_output_0', 'c2f/Split_output_1'],
      // The upsample Concat joins its inputs: c2f's output and the resized p5.
      ['c2f.cv2/Mul_output_0', 'p5', 'up/Concat_output_0'],
    ]);
  });

  for (const method of ['minmax', 'mse']) {
    it(`${method}: a group gets one scale, the checker is clean, the export runs; unequal scales are flagged`, async () => {
      const q = quantized();
      await calibrate(q, async (run) => { for (const seed of [1, 2]) await run(feed(seed).images); }, { calibrator: method, progress: false });
      for (const g of q.scaleGroups()) {
        expect(new Set(g.stubs.map((s) => s.scale[0])).size).toBe(1);
        // The one amax covers every member: at least each member's own range would be for minmax.
        if (method === 'minmax') for (const s of g.stubs) expect(s.range!.amax).toBeGreaterThan(0);
      }
      const exported = q.toExportModel();
      const report = checkPlacement(exported);
      expect(report.findings.filter((f) => f.severity !== 'info')).toEqual([]);
      const out = await runModel(exported, feed(5));
      expect(out.p3!.every(Number.isFinite)).toBe(true);

      // Give each member its own scale: TensorRT would keep reformats there, and the checker says so.
      for (const g of q.scaleGroups()) g.stubs.forEach((s, i) => s.setRange({ amax: 1 + i, min: -1 - i, max: 1 + i }));
      const codes = checkPlacement(q.toExportModel()).findings.filter((f) => f.severity === 'warning').map((f) => `${f.code} ${f.node}`);
      expect(codes).toEqual(['concat-fp16 c2f/Concat', 'concat-fp16 up/Concat']);
    });
  }

  it('minmax on a group equals minmax over all its members together', async () => {
    const q = quantized();
    const alone = quantized();
    const loop = async (run: (t: ort.Tensor) => Promise<void>) => { for (const seed of [1, 2]) await run(feed(seed).images); };
    await calibrate(q, loop, { calibrator: 'minmax', progress: false });
    // The same stubs calibrated one by one (no groups: a model built without them).
    const ungrouped = Object.assign(Object.create(Object.getPrototypeOf(alone)), alone, { _scaleGroups: [] }) as QuantizedModel;
    const r = await calibrate(ungrouped, loop, { calibrator: 'minmax', progress: false });
    for (const g of q.scaleGroups()) {
      const expected = Math.max(...g.stubs.map((s) => r.ranges[s.tensor.name]!.amax));
      for (const s of g.stubs) expect(s.range!.amax).toBeCloseTo(expected, 6);
    }
  });
});

describe('shared-scale check rule', () => {
  it('flags a MaxPool whose input and output Q/DQ disagree, not one where they agree', async () => {
    const { DataType, Graph, Model } = await import('@qdeploy/core');
    const { addQdq } = await import('./fixtures/check/builders.js');
    const build = (after: number) => {
      const g = new Graph();
      const x = g.getOrCreateValue('x');
      x.type = { tensorType: { elemType: DataType.FLOAT, shape: { dim: [1, 4, 8, 8].map((d) => ({ dimValue: d })) } } };
      g.inputs.push(x);
      const pool = g.addNode({ opType: 'MaxPool', name: 'pool', inputs: [addQdq(g, x, { scale: 0.1 })], attrs: { kernel_shape: [2, 2] } });
      const y = addQdq(g, pool.output(), { scale: after });
      g.outputs.push(y);
      return new Model(g, { irVersion: 8, opsetImport: [{ domain: '', version: 17 }] });
    };
    const codes = (m: ReturnType<typeof build>) => checkPlacement(m).findings.filter((f) => f.code === 'unequal-shared-scale').map((f) => f.node);
    expect(codes(build(0.2))).toEqual(['pool']);
    expect(codes(build(0.1))).toEqual([]);
  });
});
