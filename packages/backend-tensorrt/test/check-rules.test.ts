import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { DataType, Tensor, type Model, type Value } from '@qdeploy/core';
import { checkPlacement } from '../src/check/index.js';
import { randomInput, runModel } from './helpers.js';
import { TinyGraph, uniformQdq } from './fixtures/check/builders.js';

/** Findings of a model other than the per-layer infos, as [code, node] pairs. */
function problems(m: Model): [string, string | undefined][] {
  return checkPlacement(m).findings.filter((f) => f.severity !== 'info').map((f) => [f.code, f.node]);
}
const report = (m: Model) => checkPlacement(m);
const byCode = (m: Model, code: string) => checkPlacement(m).findings.filter((f) => f.code === code);

/** x[1,8,8,8] → Q/DQ → Conv 3×3 (int8 weight, per-channel axis 0) → Relu. */
function convRelu(opts: { t?: TinyGraph; zeroPoint?: number; type?: number; weightAxis?: number | null } = {}) {
  const t = opts.t ?? new TinyGraph();
  const x = t.input('x', [1, 8, 8, 8]);
  const w = t.int8Weight('w', [16, 8, 3, 3], opts.weightAxis === undefined ? 0 : opts.weightAxis);
  const y = t.op('Conv', [t.qdq(x, { zeroPoint: opts.zeroPoint, type: opts.type }), w, t.weight('b', [16])], { pads: [1, 1, 1, 1] }, 'conv');
  return { t, out: t.op('Relu', [y], {}, 'relu') };
}

describe('checkPlacement rules on hand-built graphs', () => {
  it('a well-placed Conv → ReLU is one INT8 group and nothing else (and onnxruntime runs the graph)', async () => {
    const { t, out } = convRelu();
    const m = t.model([out]);
    const r = report(m);
    expect(r.findings).toEqual([{ severity: 'info', code: 'int8-group', node: 'conv', message: 'INT8 Conv "conv" fused with Relu "relu": INT8 input, INT8 per-channel weights, FP16/FP32 output' }]);
    expect(r.summary).toMatchObject({ int8Groups: 1, qdqPairs: 1, weightDq: 1, quantizeNodes: 1, dequantizeNodes: 2, errors: 0, warnings: 0, opset: 17 });
    const res = await runModel(m, { x: new ort.Tensor('float32', randomInput([1, 8, 8, 8]), [1, 8, 8, 8]) });
    expect(res[out.name]!.length).toBe(16 * 64);
  });

  it('a float model: every layer is a float layer, no Q/DQ', () => {
    const t = new TinyGraph();
    const x = t.input('x', [1, 8, 8, 8]);
    const y = t.op('Conv', [x, t.weight('w', [8, 8, 1, 1])], {}, 'conv');
    const r = report(t.model([t.op('Relu', [y])]));
    expect(r.summary).toMatchObject({ int8Groups: 0, floatLayers: 1, qdqPairs: 0, weightDq: 0, errors: 0, warnings: 0 });
    expect(r.findings.map((f) => f.code)).toEqual(['float-layer']);
  });

  describe('Q/DQ parameters', () => {
    it('non-zero zero point → error naming the Q', () => {
      const { t, out } = convRelu({ zeroPoint: 3 });
      expect(problems(t.model([out]))).toEqual([['nonzero-zero-point', 'x_Q']]);
      expect(byCode(t.model([]), 'nonzero-zero-point')[0]!.message).toMatch(/zero point 3 on "x_Q", "x_DQ": .*must be 0/);
    });

    it('non-zero zero point on a per-channel weight → error naming the weight DQ', () => {
      const t = new TinyGraph();
      const x = t.input('x', [1, 4, 8, 8]);
      const w = t.int8Weight('w', [4, 4, 1, 1], 0, { zeroPoint: [0, 0, 2, 0] });
      const m = t.model([t.op('Conv', [t.qdq(x), w], {}, 'conv')]);
      expect(problems(m)).toEqual([['nonzero-zero-point', 'w_DQ']]);
    });

    it('uint8 (asymmetric) Q/DQ → uint8 error (and the zero point error when it is not 0)', () => {
      const a = convRelu({ type: DataType.UINT8, zeroPoint: 128 });
      expect(problems(a.t.model([a.out]))).toEqual([['uint8-qdq', 'x_Q'], ['nonzero-zero-point', 'x_Q']]);
      const b = convRelu({ type: DataType.UINT8, zeroPoint: 0 });
      expect(problems(b.t.model([b.out]))).toEqual([['uint8-qdq', 'x_Q']]);
      expect(byCode(b.t.model([]), 'uint8-qdq')[0]!.severity).toBe('error');
    });

    it('int16 Q/DQ → unsupported type; no zero point → warning (ONNX would mean uint8)', () => {
      const a = convRelu({ type: DataType.INT16 });
      expect(problems(a.t.model([a.out]))).toEqual([['unsupported-qdq-type', 'x_Q']]);
      const t = new TinyGraph();
      const x = t.input('x', [1, 8]);
      const m = t.model([t.op('Gemm', [t.qdq(x, { noZeroPoint: true }), t.int8Weight('w', [4, 8], 0)], { transB: 1 }, 'fc')]);
      expect(problems(m)).toEqual([['missing-zero-point', 'x_Q']]);
    });

    it('scales that are zero, negative, NaN or infinite → error; a computed scale → error', () => {
      for (const s of [0, -0.1, NaN, Infinity]) {
        const t = new TinyGraph();
        const x = t.input('x', [1, 8]);
        const m = t.model([t.op('Gemm', [t.qdq(x, { scale: s }), t.int8Weight('w', [4, 8], 0)], { transB: 1 }, 'fc')]);
        expect(problems(m)).toEqual([['bad-scale', 'x_Q']]);
      }
      const t = new TinyGraph();
      const x = t.input('x', [1, 8]);
      const s = t.op('ReduceMax', [x], { keepdims: 0 }, 'amax');
      const zp = t.g.addInitializer('zp', Tensor.fromArray(new Int8Array([0]), [], DataType.INT8));
      const q = t.g.addNode({ opType: 'QuantizeLinear', name: 'dyn_Q', inputs: [x, s, zp] });
      const dq = t.g.addNode({ opType: 'DequantizeLinear', name: 'dyn_DQ', inputs: [q.output(), s, zp] });
      const m = t.model([t.op('Gemm', [dq.output(), t.int8Weight('w', [4, 8], 0)], { transB: 1 }, 'fc')]);
      expect(problems(m)).toEqual([['non-constant-scale', 'dyn_Q']]);
    });

    it('a per-channel scale on an activation → error', () => {
      const t = new TinyGraph();
      const x = t.input('x', [1, 8, 4, 4]);
      const xq = t.qdq(x, { scale: Array.from({ length: 8 }, () => 0.1), zeroPoint: Array.from({ length: 8 }, () => 0), axis: 1 });
      const m = t.model([t.op('Conv', [xq, t.int8Weight('w', [8, 8, 1, 1], 0)], {}, 'conv')]);
      expect(problems(m)).toEqual([['per-channel-activation', 'x_Q']]);
    });

    it('one Q read by a DQ per consumer (dedicated pairs) is one quantizer: one finding', () => {
      const t = new TinyGraph();
      const x = t.input('x', [1, 8, 4, 4]);
      const s = t.g.addInitializer('s', Tensor.fromArray(new Float32Array([0.1]), []));
      const zp = t.g.addInitializer('zp', Tensor.fromArray(new Int8Array([5]), [], DataType.INT8));
      const q = t.g.addNode({ opType: 'QuantizeLinear', name: 'Q', inputs: [x, s, zp] });
      const outs = [0, 1].map((i) => {
        const dq = t.g.addNode({ opType: 'DequantizeLinear', name: `DQ${i}`, inputs: [q.output(), s, zp] });
        return t.op('Conv', [dq.output(), t.int8Weight(`w${i}`, [8, 8, 1, 1], 0)], {}, `conv${i}`);
      });
      const r = report(t.model(outs));
      expect(r.summary).toMatchObject({ qdqPairs: 2, quantizeNodes: 1, int8Groups: 2 });
      expect(problems(t.model([]))).toEqual([['nonzero-zero-point', 'Q']]);
    });
  });

  describe('per-channel weight axis', () => {
    const axisCase = (op: string, wDims: number[], axis: number, attrs: Record<string, number> = {}, xDims = [1, 8, 4, 4]) => {
      const t = new TinyGraph();
      const x = t.input('x', xDims);
      return problems(t.model([t.op(op, [t.qdq(x), t.int8Weight('w', wDims, axis)], attrs, 'layer')]));
    };

    it('Conv KCRS → axis 0', () => {
      expect(axisCase('Conv', [16, 8, 3, 3], 0)).toEqual([]);
      expect(axisCase('Conv', [16, 8, 3, 3], 1)).toEqual([['wrong-weight-axis', 'w_DQ']]);
    });

    it('ConvTranspose CKRS → axis 1', () => {
      expect(axisCase('ConvTranspose', [8, 16, 2, 2], 1)).toEqual([]);
      expect(axisCase('ConvTranspose', [8, 16, 2, 2], 0)).toEqual([['wrong-weight-axis', 'w_DQ']]);
    });

    it('Gemm: transB=1 → axis 0, otherwise axis 1', () => {
      expect(axisCase('Gemm', [4, 8], 0, { transB: 1 }, [2, 8])).toEqual([]);
      expect(axisCase('Gemm', [4, 8], 1, { transB: 1 }, [2, 8])).toEqual([['wrong-weight-axis', 'w_DQ']]);
      expect(axisCase('Gemm', [8, 4], 1, {}, [2, 8])).toEqual([]);
      expect(axisCase('Gemm', [8, 4], 0, {}, [2, 8])).toEqual([['wrong-weight-axis', 'w_DQ']]);
      expect(byCode((() => { const t = new TinyGraph(); const x = t.input('x', [2, 8]); return t.model([t.op('Gemm', [t.qdq(x), t.int8Weight('w', [4, 8], 1)], { transB: 1 }, 'fc')]); })(), 'wrong-weight-axis')[0]!.message)
        .toMatch(/Gemm "fc" is quantized per channel along axis 1, but its output channels are axis 0 \(transB=1\)/);
    });

    it('MatMul weight [K, N] → its last axis; a Transpose after the DQ (ModelOpt) is followed', () => {
      expect(axisCase('MatMul', [8, 4], 1, {}, [2, 3, 8])).toEqual([]);
      expect(axisCase('MatMul', [8, 4], 0, {}, [2, 3, 8])).toEqual([['wrong-weight-axis', 'w_DQ']]);
      // W stored as [N, K] quantized along N (axis 0), transposed to [K, N] for the MatMul: right.
      const t = new TinyGraph();
      const x = t.input('x', [2, 8]);
      const wT = t.op('Transpose', [t.int8Weight('w', [4, 8], 0)], { perm: [1, 0] }, 'wT');
      expect(problems(t.model([t.op('MatMul', [t.qdq(x), wT], {}, 'mm')]))).toEqual([]);
      const u = new TinyGraph();
      const ux = u.input('x', [2, 8]);
      const uT = u.op('Transpose', [u.int8Weight('w', [4, 8], 1)], { perm: [1, 0] }, 'wT');
      expect(problems(u.model([u.op('MatMul', [u.qdq(ux), uT], {}, 'mm')]))).toEqual([['wrong-weight-axis', 'w_DQ']]);
    });
  });

  describe('opset', () => {
    it('per-channel Q/DQ under opset 13 → error per quantizer; per-tensor is fine from opset 10', () => {
      const a = convRelu();
      expect(problems(a.t.model([a.out], 12))).toEqual([['per-channel-needs-opset-13', 'w_DQ']]);
      const b = convRelu({ weightAxis: null });
      expect(problems(b.t.model([b.out], 12))).toEqual([]);
      expect(report(b.t.model([], 12)).findings.find((f) => f.code === 'int8-group')!.message).toMatch(/per-tensor weights/);
    });

    it('Q/DQ under opset 10 → model-level error', () => {
      const b = convRelu({ weightAxis: null });
      const f = byCode(b.t.model([b.out], 9), 'opset-too-old');
      expect(f).toHaveLength(1);
      expect(f[0]!.node).toBeUndefined();
      expect(f[0]!.severity).toBe('error');
    });
  });

  describe('fusions', () => {
    it('Q/DQ between Conv and BN → error; between BN and its activation → warning', () => {
      const t = new TinyGraph();
      const x = t.input('x', [1, 4, 8, 8]);
      const c = t.op('Conv', [t.qdq(x), t.int8Weight('w', [4, 4, 3, 3], 0)], { pads: [1, 1, 1, 1] }, 'conv');
      const bn = t.op('BatchNormalization', [t.qdq(c), t.weight('g', [4]), t.weight('b', [4]), t.weight('mu', [4]), t.g.addInitializer('var', Tensor.fromArray(new Float32Array([1, 1, 1, 1]), [4]))], {}, 'bn');
      const m = t.model([t.op('Relu', [t.qdq(bn)], {}, 'relu')]);
      expect(problems(m)).toEqual([['qdq-before-bn', 'conv_output_0_Q'], ['qdq-before-activation', 'bn_output_0_Q']]);
      const [bnErr, actWarn] = report(m).findings;
      expect(bnErr!.severity).toBe('error');
      expect(bnErr!.message).toMatch(/between Conv "conv" and BatchNormalization "bn"/);
      expect(actWarn!.severity).toBe('warning');
      expect(actWarn!.message).toMatch(/between BatchNormalization "bn" and Relu "relu"/);
    });

    it('Q/DQ before a decomposed SiLU, and between a Gemm and its bias Add', () => {
      const t = new TinyGraph();
      const x = t.input('x', [1, 4, 8, 8]);
      const c = t.qdq(t.op('Conv', [t.qdq(x), t.int8Weight('w', [4, 4, 1, 1], 0)], {}, 'conv'));
      const silu = t.op('Mul', [c, t.op('Sigmoid', [c], {}, 'sig')], {}, 'silu');
      const f = t.op('Flatten', [silu], {}, 'flat');
      const mm = t.op('MatMul', [t.qdq(f), t.int8Weight('fw', [256, 10], 1)], {}, 'mm');
      const m = t.model([t.op('Add', [t.qdq(mm), t.weight('fb', [10])], {}, 'bias')]);
      expect(problems(m)).toEqual([['qdq-before-activation', 'conv_output_0_Q'], ['qdq-before-bias', 'mm_output_0_Q']]);
      expect(report(m).findings[0]!.message).toMatch(/and SiLU \(Sigmoid "sig" … Mul "silu"\)/);
    });

    it('a quantized output feeding the next conv is fine (INT8 output fused into the conv)', () => {
      const t = new TinyGraph();
      const x = t.input('x', [1, 4, 8, 8]);
      const c1 = t.op('Relu', [t.op('Conv', [t.qdq(x), t.int8Weight('w1', [4, 4, 1, 1], 0)], {}, 'c1')], {}, 'r1');
      const c2 = t.op('Conv', [t.qdq(c1), t.int8Weight('w2', [4, 4, 1, 1], 0)], {}, 'c2');
      const r = report(t.model([c2]));
      expect(r.summary).toMatchObject({ int8Groups: 2, errors: 0, warnings: 0 });
      expect(r.findings[0]!.message).toMatch(/INT8 Conv "c1" fused with Relu "r1": .*INT8 output/);
    });

    it('input quantized but weight float (or the reverse) → partial quantization', () => {
      const t = new TinyGraph();
      const x = t.input('x', [1, 4, 8, 8]);
      const a = t.op('Conv', [t.qdq(x), t.weight('w1', [4, 4, 1, 1])], {}, 'a');
      const b = t.op('Conv', [a, t.int8Weight('w2', [4, 4, 1, 1], 0)], {}, 'b');
      expect(problems(t.model([b]))).toEqual([['partial-quantization', 'a'], ['partial-quantization', 'b']]);
    });

    it('float weight → Q → DQ (ModelOpt / pytorch-quantization exports) is a weight quantizer', () => {
      const t = new TinyGraph();
      const x = t.input('x', [1, 4, 8, 8]);
      const w = t.qdq(t.weight('w', [8, 4, 3, 3]), { scale: Array.from({ length: 8 }, () => 0.01), zeroPoint: Array.from({ length: 8 }, () => 0), axis: 0 });
      const r = report(t.model([t.op('Relu', [t.op('Conv', [t.qdq(x), w], {}, 'conv')])]));
      expect(r.summary).toMatchObject({ int8Groups: 1, qdqPairs: 1, weightDq: 1, quantizeNodes: 2, errors: 0, warnings: 0 });
    });
  });

  describe('residual Add', () => {
    /** x → Q/DQ → c1 → Relu → Q/DQ → c2 → Add(c2, skip) → Relu, with the Q/DQ placement chosen per call. */
    function block(o: { skipQdq: boolean; branchQdq: boolean }) {
      const t = new TinyGraph();
      const x = t.input('x', [1, 8, 8, 8]);
      const xq = t.qdq(x);
      const r1 = t.op('Relu', [t.op('Conv', [xq, t.int8Weight('w1', [8, 8, 3, 3], 0)], { pads: [1, 1, 1, 1] }, 'c1')], {}, 'r1');
      const c2 = t.op('Conv', [t.qdq(r1), t.int8Weight('w2', [8, 8, 3, 3], 0)], { pads: [1, 1, 1, 1] }, 'c2');
      const add = t.op('Add', [o.branchQdq ? t.qdq(c2) : c2, o.skipQdq ? xq : x], {}, 'add');
      return t.model([t.op('Relu', [add], {}, 'r2')]);
    }

    it('skip input quantized, conv branch not: Conv + Add + ReLU fused, nothing to report', () => {
      const m = block({ skipQdq: true, branchQdq: false });
      expect(problems(m)).toEqual([]);
      expect(report(m).findings.find((f) => f.node === 'c2')!.message).toMatch(/fused with Add "add" \+ Relu "r2"/);
    });

    it('unquantized skip input while the conv is INT8 → "Add left in FP16 / not fused"', () => {
      const m = block({ skipQdq: false, branchQdq: false });
      expect(problems(m)).toEqual([['add-not-fused', 'add']]);
      expect(byCode(m, 'add-not-fused')[0]!.message).toMatch(/skip input "x" is not quantized while Conv "c2" is INT8/);
      // The group stops before the Add, with a float output.
      expect(report(m).findings.find((f) => f.node === 'c2')!.message).toBe('INT8 Conv "c2": INT8 input, INT8 per-channel weights, FP16/FP32 output');
    });

    it('Q/DQ on the conv branch → warning naming that Q/DQ (with or without the skip quantized)', () => {
      expect(problems(block({ skipQdq: true, branchQdq: true }))).toEqual([['qdq-on-conv-branch', 'c2_output_0_Q']]);
      expect(problems(block({ skipQdq: false, branchQdq: true }))).toEqual([['qdq-on-conv-branch', 'c2_output_0_Q']]);
    });

    it('downsample block: the shortcut conv output quantized is the skip input (fine); the main branch quantized is not', () => {
      const build = (quantizeMain: boolean) => {
        const t = new TinyGraph();
        const x = t.input('x', [1, 8, 8, 8]);
        const xq = t.qdq(x);
        const r1 = t.op('Relu', [t.op('Conv', [xq, t.int8Weight('w1', [8, 8, 3, 3], 0)], { pads: [1, 1, 1, 1] }, 'c1')], {}, 'r1');
        const c2 = t.op('Conv', [t.qdq(r1), t.int8Weight('w2', [8, 8, 3, 3], 0)], { pads: [1, 1, 1, 1] }, 'c2');
        const sc = t.op('Conv', [xq, t.int8Weight('ws', [8, 8, 1, 1], 0)], {}, 'sc');
        // Both quantized when quantizeMain (uniform placement), else the right placement.
        const add = t.op('Add', [quantizeMain ? t.qdq(c2) : c2, t.qdq(sc)], {}, 'add');
        return t.model([t.op('Relu', [add], {}, 'r2')]);
      };
      expect(problems(build(false))).toEqual([]);
      expect(problems(build(true))).toEqual([['qdq-on-conv-branch', 'c2_output_0_Q']]);
    });
  });

  describe('reformat risks', () => {
    it('quantized depthwise conv → warning; unquantized → float layer, as recommended', () => {
      const t = new TinyGraph();
      const x = t.input('x', [1, 8, 8, 8]);
      const dw = t.op('Conv', [t.qdq(x), t.int8Weight('w', [8, 1, 3, 3], 0)], { group: 8, pads: [1, 1, 1, 1] }, 'dw');
      const m = t.model([t.op('Clip', [dw, t.g.addInitializer('lo', Tensor.fromArray(new Float32Array([0]), [])), t.g.addInitializer('hi', Tensor.fromArray(new Float32Array([6]), []))], {}, 'relu6')]);
      expect(problems(m)).toEqual([['quantized-depthwise', 'dw']]);
      expect(byCode(m, 'quantized-depthwise')[0]!.message).toMatch(/quantized input and weight/);
      const u = new TinyGraph();
      const ux = u.input('x', [1, 8, 8, 8]);
      const um = u.model([u.op('Conv', [ux, u.weight('w', [8, 1, 3, 3])], { group: 8, pads: [1, 1, 1, 1] }, 'dw')]);
      expect(problems(um)).toEqual([]);
      expect(byCode(um, 'float-layer')[0]!.message).toMatch(/depthwise, as recommended/);
    });

    it('quantized GlobalAveragePool / AveragePool input → warning; MaxPool commutes', () => {
      const t = new TinyGraph();
      const x = t.input('x', [1, 8, 8, 8]);
      const gap = t.op('GlobalAveragePool', [t.qdq(x)], {}, 'gap');
      const ap = t.op('AveragePool', [t.qdq(x, { name: 'x2' })], { kernel_shape: [2, 2] }, 'ap');
      const mp = t.op('MaxPool', [t.qdq(x, { name: 'x3' })], { kernel_shape: [2, 2] }, 'mp');
      expect(problems(t.model([gap, ap, mp]))).toEqual([['quantized-pooling', 'gap'], ['quantized-pooling', 'ap']]);
    });

    it('LayerNormalization: quantized input, quantized γ, output Q/DQ read by a float op → warnings', () => {
      const t = new TinyGraph();
      const x = t.input('x', [2, 5, 16]);
      const ln = t.op('LayerNormalization', [t.qdq(x), t.int8Weight('gamma', [16], null), t.weight('beta', [16])], { axis: -1 }, 'ln');
      const lnq = t.qdq(ln);
      const proj = t.op('MatMul', [lnq, t.int8Weight('wq', [16, 16], 1)], {}, 'proj');
      const res = t.op('Add', [lnq, proj], {}, 'residual');
      expect(problems(t.model([res]))).toEqual([['quantized-layernorm', 'ln'], ['layernorm-weight-quantized', 'ln'], ['layernorm-output-quantized', 'ln_output_0_Q']]);
      expect(byCode(t.model([]), 'layernorm-output-quantized')[0]!.message).toMatch(/read as float by Add "residual"/);
    });

    it('LayerNorm output quantized only for the projections: fine', () => {
      const t = new TinyGraph();
      const x = t.input('x', [2, 5, 16]);
      const ln = t.op('LayerNormalization', [x, t.weight('gamma', [16]), t.weight('beta', [16])], { axis: -1 }, 'ln');
      const lnq = t.qdq(ln);
      const outs = ['q', 'k', 'v'].map((n) => t.op('MatMul', [lnq, t.int8Weight(`w${n}`, [16, 16], 1)], {}, n));
      const r = report(t.model(outs));
      expect(r.summary).toMatchObject({ errors: 0, warnings: 0, int8Groups: 3 });
    });

    it('decomposed LayerNorm (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add) with a quantized input', () => {
      const build = () => {
        const t = new TinyGraph();
        const x = t.input('x', [2, 5, 16]);
        const c = (name: string, v: number) => t.g.addInitializer(name, Tensor.fromArray(new Float32Array([v]), []));
        const mean = t.op('ReduceMean', [x], { axes: [-1] }, 'mean');
        const d = t.op('Sub', [x, mean], {}, 'sub');
        const v = t.op('ReduceMean', [t.op('Pow', [d, c('two', 2)], {}, 'pow')], { axes: [-1] }, 'var');
        const std = t.op('Sqrt', [t.op('Add', [v, c('eps', 1e-5)], {}, 'addeps')], {}, 'sqrt');
        const y = t.op('Add', [t.op('Mul', [t.op('Div', [d, std], {}, 'div'), t.weight('gamma', [16])], {}, 'mulg'), t.weight('beta', [16])], {}, 'addb');
        return t.model([t.op('MatMul', [y, t.weight('w', [16, 8])], {}, 'proj')]);
      };
      // Quantize the LayerNorm's input only.
      const m = build();
      const x = m.graph.value('x')!;
      const readers = x.uses.map((u) => ({ ...u }));
      const xq = addQdqTo(m, x);
      for (const u of readers) u.node.setInput(u.index, xq);
      m.graph.toposort();
      const f = byCode(m, 'quantized-layernorm');
      expect(f.map((x) => x.node)).toEqual(['mean']);
      expect(f[0]!.message).toMatch(/^decomposed LayerNorm \(starting at ReduceMean "mean"\) reads a dequantized INT8 tensor \("x"\):/);
      // Uniform placement: the same LayerNorm, with Q/DQ on every input inside it too: on mean, d (read by
      // Pow and Div), the Pow, ReduceMean, Add(ε), Sqrt, Div and Mul(γ) outputs — 8 besides x's.
      const u = byCode(uniformQdq(build()), 'quantized-layernorm');
      expect(u).toHaveLength(1);
      expect(u[0]!.message).toMatch(/and 8 more Q\/DQ sit inside it/);
    });

    it('Softmax: quantized input → warning; output Q/DQ read by a float op → warning; read by softmax·V → fine', () => {
      const t = new TinyGraph();
      const s = t.input('scores', [1, 2, 4, 4]);
      const v = t.input('v', [1, 2, 4, 8]);
      const sm = t.op('Softmax', [t.qdq(s)], { axis: -1 }, 'softmax');
      const smq = t.qdq(sm);
      const ctx = t.op('MatMul', [smq, t.qdq(v)], {}, 'attn_v');
      const m = t.model([ctx, t.op('Mul', [smq, t.weight('k', [1])], {}, 'probs_out')]);
      expect(problems(m)).toEqual([['quantized-softmax', 'softmax'], ['softmax-output-quantized', 'softmax_output_0_Q']]);
    });
  });

  describe('attention MatMuls', () => {
    /** q, k, v → Q·Kᵀ → Softmax → ·V, each of the four MatMul inputs quantized or not. */
    function attention(qq: boolean, kq: boolean, sq: boolean, vq: boolean) {
      const t = new TinyGraph();
      const q = t.input('q', [1, 2, 4, 8]);
      const k = t.input('k', [1, 2, 4, 8]);
      const v = t.input('v', [1, 2, 4, 8]);
      const kT = t.op('Transpose', [kq ? t.qdq(k) : k], { perm: [0, 1, 3, 2] }, 'kT');
      const scores = t.op('MatMul', [qq ? t.qdq(q) : q, kT], {}, 'qk');
      const probs = t.op('Softmax', [scores], { axis: -1 }, 'softmax');
      return t.model([t.op('MatMul', [sq ? t.qdq(probs) : probs, vq ? t.qdq(v) : v], {}, 'sv')]);
    }

    it('both inputs quantized (INT8 MHA) or neither: nothing to report', () => {
      expect(problems(attention(true, true, true, true))).toEqual([]);
      expect(problems(attention(false, false, false, false))).toEqual([]);
    });

    it('one side quantized → warning per MatMul (the DQ behind the Transpose of K counts)', () => {
      expect(problems(attention(true, false, true, true))).toEqual([['attention-one-sided', 'qk']]);
      expect(problems(attention(true, true, false, true))).toEqual([['attention-one-sided', 'sv']]);
      const both = report(attention(false, true, true, false)).findings.filter((f) => f.code === 'attention-one-sided');
      expect(both.map((f) => f.node)).toEqual(['qk', 'sv']);
      expect(both[0]!.message).toMatch(/^Q·Kᵀ MatMul "qk" has only one quantized input \("k"; "q" is float\)/);
      expect(both[1]!.message).toMatch(/^softmax·V MatMul "sv" has only one quantized input \("softmax_output_0"; "v" is float\)/);
    });
  });

  describe('operators TensorRT rejects', () => {
    it('QLinearConv / MatMulInteger and com.microsoft Q/DQ → errors', () => {
      const t = new TinyGraph();
      const x = t.input('x', [1, 8]);
      const s = t.g.addInitializer('s', Tensor.fromArray(new Float32Array([0.1]), []));
      const zp = t.g.addInitializer('zp', Tensor.fromArray(new Int8Array([0]), [], DataType.INT8));
      const q = t.g.addNode({ opType: 'QuantizeLinear', name: 'ms_Q', domain: 'com.microsoft', inputs: [x, s, zp] });
      const mi = t.g.addNode({ opType: 'MatMulInteger', name: 'mmi', inputs: [q.output(), t.g.addInitializer('wi', Tensor.fromArray(new Int8Array(32), [8, 4], DataType.INT8))] });
      const ql = t.g.addNode({ opType: 'QLinearConv', name: 'qconv', inputs: [q.output(), s, zp] });
      const m = t.model([mi.output(), ql.output()]);
      expect(problems(m)).toEqual([['non-standard-qdq', 'ms_Q'], ['integer-op', 'mmi'], ['integer-op', 'qconv']]);
    });
  });
});

/** Adds a Q→DQ pair on `x` in `m` (int8, scale 0.05). */
function addQdqTo(m: Model, x: Value): Value {
  const g = m.graph;
  const s = g.addInitializer(`${x.name}_s`, Tensor.fromArray(new Float32Array([0.05]), []));
  const zp = g.addInitializer(`${x.name}_zp`, Tensor.fromArray(new Int8Array([0]), [], DataType.INT8));
  const q = g.addNode({ opType: 'QuantizeLinear', name: `${x.name}_Q`, inputs: [x, s, zp] });
  return g.addNode({ opType: 'DequantizeLinear', name: `${x.name}_DQ`, inputs: [q.output(), s, zp] }).output();
}
