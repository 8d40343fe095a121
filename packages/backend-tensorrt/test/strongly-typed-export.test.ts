import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  DataType, Graph, Model, Tensor, calibrate, fp16ToNumber, inferElemTypes, insertQdq, loadModel, measureFloatRanges, modelFloatType,
  modelToBytes, quantConfig, registerCalibrator, roundFloats, toBfloat16Bits, toFloat16Bits, toStronglyTyped, transform, type Value,
} from '@qdeploy/core';
import { maxRelativeError, randomInput, runModel, vendored as repoFixture } from './helpers.js';
import { registerAll } from '@qdeploy/calibrators';
import { TENSORRT_PATTERNS } from '../src/index.js';

registerAll(registerCalibrator);

describe('FP16 / BF16 encoding', () => {
  it('rounds to nearest even, keeps subnormals, overflows to Infinity', () => {
    expect(toFloat16Bits(1)).toBe(0x3c00);
    expect(toFloat16Bits(65504)).toBe(0x7bff);
    expect(toFloat16Bits(65520)).toBe(0x7c00); // halfway to the next step: rounds up to Infinity
    expect(toFloat16Bits(-(2 ** -24))).toBe(0x8001); // smallest subnormal
    expect(toFloat16Bits(2 ** -26)).toBe(0); // below half of it
    expect(toFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(toFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(Number.isNaN(fp16ToNumber(toFloat16Bits(NaN)))).toBe(true);
    expect(toBfloat16Bits(1)).toBe(0x3f80);
    expect(toBfloat16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie → even
  });

  it('round trips every finite half exactly', () => {
    for (let h = 0; h < 0x7c00; h += 7) {
      expect(toFloat16Bits(fp16ToNumber(h))).toBe(h);
      expect(toFloat16Bits(-fp16ToNumber(h))).toBe(h === 0 ? 0x8000 : h | 0x8000);
    }
    const r = roundFloats(Float32Array.from([0.1, 1000.3, -3.14159]), 'fp16');
    expect([...r]).toEqual([fp16ToNumber(toFloat16Bits(0.1)), 1000.5, fp16ToNumber(toFloat16Bits(-3.14159))]);
  });
});

const feed = (n = 4, seed = 1) => ({ input: new ort.Tensor('float32', randomInput([n, 1, 28, 28], seed), [n, 1, 28, 28]) });

async function qdqExport(file: string) {
  const { model, matches } = transform(loadModel(repoFixture(file)), { patterns: TENSORRT_PATTERNS });
  const q = insertQdq(model, matches, { config: quantConfig() });
  const loop = async (run: (t: ort.Tensor) => Promise<void>) => { for (const s of [1, 2]) await run(feed(8, s).input); };
  await calibrate(q, loop, { calibrator: 'minmax', progress: false });
  return { fp32: model, exported: q.toExportModel(), loop };
}

const floatInitializers = (m: Model) => m.graph.initializers().filter((v) => ([DataType.FLOAT, DataType.FLOAT16] as number[]).includes(v.initializer!.dataType));

describe('toStronglyTyped on the fmnist ResNet QDQ export', () => {
  it('FP16 everywhere: initializers and Q/DQ scales in FP16 at opset 19, FP32 graph I/O, runs in onnxruntime close to the FP32-float export', async () => {
    const { exported } = await qdqExport('fmnist_resnet.onnx');
    const { model, report } = toStronglyTyped(exported, { float: 'fp16' });
    expect(report.kept).toEqual([]);
    expect(report.opset).toEqual({ from: 17, to: 19 });
    expect(model.opset('')).toBe(19);
    expect(Number(model.header.irVersion)).toBeGreaterThanOrEqual(9);
    expect(floatInitializers(model).every((v) => v.initializer!.dataType === DataType.FLOAT16)).toBe(true);
    for (const n of model.graph.nodes.filter((x) => x.opType === 'QuantizeLinear' || x.opType === 'DequantizeLinear')) {
      expect(n.input(1)!.initializer!.dataType).toBe(DataType.FLOAT16);
    }
    expect(model.graph.inputs[0]!.elemType).toBe(DataType.FLOAT);
    expect(model.graph.outputs[0]!.elemType).toBe(DataType.FLOAT);
    // Exactly two Casts: the input into FP16, the logits back to FP32.
    expect(model.graph.nodes.filter((n) => n.opType === 'Cast')).toHaveLength(2);
    expect(modelFloatType(model)).toBe('fp16');
    expect(modelFloatType(exported)).toBeNull();
    // The input model is untouched.
    expect(exported.opset('')).toBe(17);
    const [a, b] = [await runModel(exported, feed()), await runModel(model, feed())];
    expect(maxRelativeError(a.logits!, b.logits!)).toBeLessThan(0.05);
  });

  it('emulation (Cast pairs, rounded constants) matches the FP16 model run without graph optimisations', async () => {
    const { exported } = await qdqExport('fmnist_resnet.onnx');
    const typed = toStronglyTyped(exported, { float: 'fp16' }).model;
    const emu = toStronglyTyped(exported, { float: 'fp16', emulate: true });
    expect(emu.model.opset('')).toBe(17);
    expect(floatInitializers(emu.model).every((v) => v.initializer!.dataType === DataType.FLOAT)).toBe(true);
    const [a, b] = [await runModel(typed, feed(8, 3)), await runModel(emu.model, feed(8, 3))];
    // INT8 amplifies a rounding difference into a step now and then: ~1 % of the logit range.
    expect(maxRelativeError(b.logits!, a.logits!)).toBeLessThan(0.03);
  });

  it('io "fp16" makes the graph inputs and outputs FP16 and needs no Cast', async () => {
    const { exported } = await qdqExport('fmnist_resnet.onnx');
    const { model } = toStronglyTyped(exported, { float: 'fp16', io: 'fp16' });
    expect(model.graph.inputs[0]!.elemType).toBe(DataType.FLOAT16);
    expect(model.graph.outputs[0]!.elemType).toBe(DataType.FLOAT16);
    expect(model.graph.nodes.filter((n) => n.opType === 'Cast')).toHaveLength(0);
    const x = feed(2).input;
    const half = new ort.Tensor('float16', Uint16Array.from(x.data as Float32Array, (v) => toFloat16Bits(v)), x.dims);
    const s = await ort.InferenceSession.create(modelToBytes(model), { graphOptimizationLevel: 'disabled' });
    const out = await s.run({ input: half });
    expect(out.logits!.type).toBe('float16');
  });

  it('BF16: scales and initializers in BF16 (its own type code)', async () => {
    const { exported } = await qdqExport('fmnist_resnet.onnx');
    const { model } = toStronglyTyped(exported, { float: 'bf16' });
    expect(floatInitializers(model)).toEqual([]);
    expect(model.graph.initializers().some((v) => v.initializer!.dataType === DataType.BFLOAT16)).toBe(true);
    expect(modelFloatType(model)).toBe('bf16');
  });
});

describe('the FP32 policy', () => {
  it('keeps LayerNorm in FP32 on the ViT, with Casts around it', async () => {
    const { model: fused } = transform(loadModel(repoFixture('fmnist_vit_small.onnx')), { patterns: TENSORRT_PATTERNS });
    const { model, report } = toStronglyTyped(fused, { float: 'fp16' });
    expect(report.kept.map((k) => `${k.opType}:${k.rule}`)).toEqual(Array(7).fill('LayerNormalization:layernorm'));
    const types = inferElemTypes(model.graph);
    for (const ln of model.graph.nodes.filter((n) => n.opType === 'LayerNormalization')) {
      expect(types.get(ln.input(0)!)).toBe(DataType.FLOAT);
      expect(ln.input(0)!.producer!.opType).toBe('Cast');
      expect(ln.output().uses.every((u) => u.node.opType === 'Cast')).toBe(true);
    }
    const [a, b] = [await runModel(fused, feed()), await runModel(model, feed())];
    expect(maxRelativeError(a.logits!, b.logits!)).toBeLessThan(0.02);
  });

  it('keeps a node FP32 when its measured values exceed dataMax, reports values beyond FP16, obeys exclude / include', async () => {
    // x → Mul(·, 1000) → Relu → Add(·, 1) → y: the Mul's output reaches ~1000 (> 512) on the data.
    const g = new Graph();
    const x = g.getOrCreateValue('x');
    x.type = { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimValue: 2 }, { dimValue: 8 }] } } };
    g.inputs.push(x);
    const big = g.addInitializer('big', Tensor.fromArray(Float32Array.from([1e5]), []));
    const mul = g.addNode({ opType: 'Mul', name: 'mul', inputs: [x, big] });
    const relu = g.addNode({ opType: 'Relu', name: 'relu', inputs: [mul.output()] });
    const add = g.addNode({ opType: 'Add', name: 'add', inputs: [relu.output(), g.addInitializer('one', Tensor.fromArray(Float32Array.from([1]), []))] });
    const y: Value = add.output();
    g.rename(y, 'y');
    y.type = { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimValue: 2 }, { dimValue: 8 }] } } };
    g.outputs.push(y);
    const m = new Model(g, { irVersion: 8, opsetImport: [{ domain: '', version: 17 }] });
    const data = new ort.Tensor('float32', randomInput([2, 8], 5), [2, 8]);
    const ranges = await measureFloatRanges(m, async (run) => { await run(data); });
    expect(ranges['mul_output_0']).toBeGreaterThan(65504);
    const { report } = toStronglyTyped(m, { float: 'fp16', ranges });
    // The Mul's constant is beyond FP16; every node touching the > 512 values stays FP32.
    expect(report.kept.map((k) => `${k.node}:${k.rule}`).sort()).toEqual(['add:range', 'mul:initializer', 'relu:range']);
    expect(report.outOfRange.map((o) => [o.tensor, o.keptFp32])).toEqual([['mul_output_0', true], ['relu_output_0', true], ['y', true]]);
    const forced = toStronglyTyped(m, { float: 'fp16', ranges, policy: { include: ['relu'], exclude: ['Add'] } }).report;
    expect(forced.kept.map((k) => `${k.node}:${k.rule}`).sort()).toEqual(['add:exclude', 'mul:initializer']);
    expect(forced.outOfRange.find((o) => o.tensor === 'relu_output_0')?.keptFp32).toBe(false);
  });
});
