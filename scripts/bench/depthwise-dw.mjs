#!/usr/bin/env node
// The depthwise weight-gradient formulations autodiff chose between, one layer, one thread:
// im2col·Mul·sum (the former), im2col + per-(n,c) dot products by MatMul (strided convs now),
// a grouped conv of X by dY, and per-kernel-position shifted Slices (stride 1 now), with the
// sum over space last (shift) or over the batch too (shift2), and the batch folded into the
// channels of one grouped conv of X by dY on onnxruntime's NCHWc kernel (nchwc: what
// autodiff emits when the QAT session runs its convs blocked). Prints the median of 15 runs.
// Usage: node scripts/bench/depthwise-dw.mjs [channels=96] [size=14] [batch=32] [stride=1]
import * as ort from 'onnxruntime-node';
import { Graph, Model, Tensor, modelToBytes } from '@qdeploy/core';
import { lowerConvsToNchwc, nchwcBlockSize } from '../../packages/core/dist/qat/nchwc/index.js';
const [C = 96, HW = 14, N = 32, S = 1] = process.argv.slice(2).map(Number);
const OH = Math.floor((HW + 2 - 3) / S) + 1, L = OH * OH, K = 9;
const tt = (dims) => ({ tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } });
function build(kind) {
  const g = new Graph();
  const shapes = new Map([['x', [N, C, HW, HW]], ['dy', [N, C, OH, OH]]]);
  const x = g.getOrCreateValue('x'); x.type = tt([N, C, HW, HW]); g.inputs.push(x);
  const dy = g.getOrCreateValue('dy'); dy.type = tt([N, C, OH, OH]); g.inputs.push(dy);
  const i64 = (a) => g.addInitializer(g.uniqueName('c'), Tensor.fromArray(BigInt64Array.from(a.map(BigInt)), [a.length]));
  const op = (opType, inputs, attrs = {}) => g.addNode({ opType, inputs, attrs }).outputs[0];
  let out;
  const onehot = new Float32Array(C * K * K); for (let c = 0; c < C; c++) for (let j = 0; j < K; j++) onehot[(c * K + j) * K + j] = 1;
  const im2col = () => op('Conv', [x, g.addInitializer('oh', Tensor.fromArray(onehot, [C * K, 1, 3, 3]))], { pads: [1, 1, 1, 1], strides: [S, S], group: C });
  if (kind === 'mulsum') {
    const p = op('Reshape', [im2col(), i64([N, C, K, L])]);
    const m = op('Mul', [p, op('Reshape', [dy, i64([N, C, 1, L])])]);
    out = op('ReduceSum', [m, i64([0, 3])], { keepdims: 0 });
  } else if (kind === 'gemv') {
    const p = op('Reshape', [im2col(), i64([N, C, K, L])]);
    const m = op('MatMul', [p, op('Reshape', [dy, i64([N, C, L, 1])])]);
    out = op('ReduceSum', [op('Reshape', [m, i64([N, C * K])]), i64([0])], { keepdims: 0 });
  } else if (kind === 'gconv') {
    const a = op('Reshape', [op('Transpose', [x], { perm: [1, 0, 2, 3] }), i64([1, C * N, HW, HW])]);
    const k = op('Transpose', [dy], { perm: [1, 0, 2, 3] });
    const o = op('Conv', [a, k], { pads: [1, 1, 1, 1], group: C, dilations: [S, S] });
    out = op('Slice', [o, i64([0, 0]), i64([3, 3]), i64([2, 3])]);
  } else if (kind === 'nchwc') {
    // dW per (n, c) = X[n, c] correlated with dY[n, c] spread by the stride; end padding cut so exactly 3×3 come out.
    const pe = 3 - 1 + S * (OH - 1) + 1 - HW - 1;
    const xr = op('Reshape', [x, i64([1, N * C, HW, HW])]); shapes.set(xr.name, [1, N * C, HW, HW]);
    const kr = op('Reshape', [dy, i64([N * C, 1, OH, OH])]); shapes.set(kr.name, [N * C, 1, OH, OH]);
    const conv = op('Conv', [xr, kr], { group: N * C, kernel_shape: [OH, OH], pads: [1, 1, pe, pe], dilations: [S, S] }); shapes.set(conv.name, [1, N * C, 3, 3]);
    out = op('MatMul', [g.addInitializer('ones', Tensor.fromArray(new Float32Array(N).fill(1), [1, N])), op('Reshape', [conv, i64([N, C * K])])]);
  } else if (kind === 'shift') {
    const xp = op('Pad', [x, i64([0, 0, 1, 1, 0, 0, 1, 1])]);
    const parts = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
      const s = op('Slice', [xp, i64([i, j]), i64([i + S * (OH - 1) + 1, j + S * (OH - 1) + 1]), i64([2, 3]), i64([S, S])]);
      parts.push(op('ReduceSum', [op('Mul', [s, dy]), i64([0, 2, 3])], { keepdims: 0 }));
    }
    out = op('Concat', parts.map((p) => op('Unsqueeze', [p, i64([1])])), { axis: 1 });
  } else if (kind === 'shift2') {
    const xp = op('Pad', [x, i64([0, 0, 1, 1, 0, 0, 1, 1])]);
    const parts = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
      const s = op('Slice', [xp, i64([i, j]), i64([i + S * (OH - 1) + 1, j + S * (OH - 1) + 1]), i64([2, 3]), i64([S, S])]);
      parts.push(op('ReduceSum', [op('Mul', [s, dy]), i64([2, 3])], { keepdims: 1 }));
    }
    out = op('ReduceSum', [op('Concat', parts, { axis: 2 }), i64([0])], { keepdims: 0 });
    out = op('Reshape', [out, i64([C, 9])]);
  }
  out.name = 'dw'; g.outputs.push(out);
  const model = new Model(g, { irVersion: 8, opsetImport: [{ domain: '', version: 17 }] });
  if (kind === 'nchwc') lowerConvsToNchwc(model, shapes, block);
  return model;
}
const xs = new ort.Tensor('float32', Float32Array.from({ length: N * C * HW * HW }, (_, i) => Math.sin(i * 0.37)), [N, C, HW, HW]);
const dys = new ort.Tensor('float32', Float32Array.from({ length: N * C * L }, (_, i) => Math.cos(i * 0.1)), [N, C, OH, OH]);
let ref;
const block = await nchwcBlockSize();
for (const kind of ['mulsum', 'gemv', 'gconv', 'shift', 'shift2', ...(block ? ['nchwc'] : [])]) {
  const s = await ort.InferenceSession.create(modelToBytes(build(kind)), { graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
  const r = (await s.run({ x: xs, dy: dys })).dw.data;
  ref ??= r; let e = 0; for (let i = 0; i < r.length; i++) e = Math.max(e, Math.abs(r[i] - ref[i]) / (1 + Math.abs(ref[i])));
  const t = []; for (let i = 0; i < 15; i++) { const t0 = performance.now(); await s.run({ x: xs, dy: dys }); t.push(performance.now() - t0); } t.sort((a, b) => a - b);
  console.log(kind.padEnd(8), t[7].toFixed(2), 'ms', 'err', e.toExponential(1), r.length);
}
