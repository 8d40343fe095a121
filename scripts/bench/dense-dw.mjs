#!/usr/bin/env node
// The dense weight-gradient formulations autodiff chose between, one 3×3 layer, one thread:
// im2col (one-hot grouped Conv) + batched MatMul + sum over the batch (the former, and still
// the one for patches over 32 MB), and one GEMM per kernel position on strided slices of X
// in NHWC (nhwc-shift; -b: batched per sample, then summed), and the textbook conv of X by
// dY (batch as channels). Prints the median of 11 runs.
// Usage: node scripts/bench/dense-dw.mjs [C=64] [M=64] [size=14] [batch=32] [stride=1] [threads=1]
import * as ort from 'onnxruntime-node';
import { Graph, Model, Tensor, modelToBytes } from '@qdeploy/core';
const [C = 64, M = 64, HW = 14, N = 32, S = 1, T = 1] = process.argv.slice(2).map(Number);
const OH = Math.floor((HW + 2 - 3) / S) + 1, L = OH * OH, K = 9;
const tt = (dims) => ({ tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } });
function build(kind) {
  const g = new Graph(); const shapes = new Map();
  const x = g.getOrCreateValue('x'); x.type = tt([N, C, HW, HW]); g.inputs.push(x);
  const dy = g.getOrCreateValue('dy'); dy.type = tt([N, M, OH, OH]); g.inputs.push(dy);
  const i64 = (a) => g.addInitializer(g.uniqueName('c'), Tensor.fromArray(BigInt64Array.from(a.map(BigInt)), [a.length]));
  const op = (opType, inputs, attrs = {}) => g.addNode({ opType, inputs, attrs }).outputs[0];
  let out;
  if (kind === 'im2col') {
    const onehot = new Float32Array(C * K * K); for (let c = 0; c < C; c++) for (let j = 0; j < K; j++) onehot[(c * K + j) * K + j] = 1;
    const p = op('Conv', [x, g.addInitializer('oh', Tensor.fromArray(onehot, [C * K, 1, 3, 3]))], { pads: [1, 1, 1, 1], strides: [S, S], group: C });
    const dyT = op('Transpose', [op('Reshape', [dy, i64([N, 1, M, L])])], { perm: [0, 1, 3, 2] });
    const prod = op('MatMul', [op('Reshape', [p, i64([N, 1, C * K, L])]), dyT]);
    const summed = op('MatMul', [g.addInitializer('ones', Tensor.fromArray(new Float32Array(N).fill(1), [1, N])), op('Reshape', [prod, i64([N, C * K * M])])]);
    out = op('Reshape', [op('Transpose', [op('Reshape', [summed, i64([C, K, M])])], { perm: [2, 0, 1] }), i64([M, C, 3, 3])]);
  } else if (kind === 'nhwc-shift-b') {
    const xp = op('Pad', [op('Transpose', [x], { perm: [0, 2, 3, 1] }), i64([0, 1, 1, 0, 0, 1, 1, 0])]);
    const dy3 = op('Reshape', [dy, i64([N, M, L])]);
    const ones = g.addInitializer('ones', Tensor.fromArray(new Float32Array(N).fill(1), [1, N]));
    const parts = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
      const sl = op('Slice', [xp, i64([i, j]), i64([i + S * (OH - 1) + 1, j + S * (OH - 1) + 1]), i64([1, 2]), i64([S, S])]);
      const mm = op('MatMul', [dy3, op('Reshape', [sl, i64([N, L, C])])]);
      parts.push(op('Unsqueeze', [op('Reshape', [op('MatMul', [ones, op('Reshape', [mm, i64([N, M * C])])]), i64([M, C])]), i64([2])]));
    }
    out = op('Concat', parts, { axis: 2 });
    out = op('Reshape', [out, i64([M, C, 3, 3])]);
  } else if (kind === 'nhwc-shift') {
    const xp = op('Pad', [op('Transpose', [x], { perm: [0, 2, 3, 1] }), i64([0, 1, 1, 0, 0, 1, 1, 0])]); // [N, H+2, W+2, C]
    const dyT = op('Reshape', [op('Transpose', [dy], { perm: [1, 0, 2, 3] }), i64([M, N * L])]);
    const parts = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
      const sl = op('Slice', [xp, i64([i, j]), i64([i + S * (OH - 1) + 1, j + S * (OH - 1) + 1]), i64([1, 2]), i64([S, S])]);
      const mm = op('MatMul', [dyT, op('Reshape', [sl, i64([N * L, C])])]);
      parts.push(op('Unsqueeze', [mm, i64([2])]));
    }
    out = op('Concat', parts, { axis: 2 });
    out = op('Reshape', [out, i64([M, C, 3, 3])]);
  } else {
    const a = op('Transpose', [x], { perm: [1, 0, 2, 3] }); shapes.set(a.name, [C, N, HW, HW]);
    const k = op('Transpose', [dy], { perm: [1, 0, 2, 3] }); shapes.set(k.name, [M, N, OH, OH]);
    const o = op('Conv', [a, k], { pads: [1, 1, 1, 1], dilations: [S, S] });
    const sl = op('Slice', [o, i64([0, 0]), i64([3, 3]), i64([2, 3])]);
    out = op('Transpose', [sl], { perm: [1, 0, 2, 3] });
  }
  out.name = 'dw'; g.outputs.push(out);
  return new Model(g, { irVersion: 8, opsetImport: [{ domain: '', version: 17 }, { domain: 'com.microsoft.nchwc', version: 1 }] });
}
const xs = new ort.Tensor('float32', Float32Array.from({ length: N * C * HW * HW }, (_, i) => Math.sin(i * 0.37)), [N, C, HW, HW]);
const dys = new ort.Tensor('float32', Float32Array.from({ length: N * M * L }, (_, i) => Math.cos(i * 0.1)), [N, M, OH, OH]);
let ref;
for (const kind of ['im2col', 'nhwc-shift', 'nhwc-shift-b', 'textbook']) {
  const s = await ort.InferenceSession.create(modelToBytes(build(kind)), { graphOptimizationLevel: 'all', intraOpNumThreads: T });
  const r = (await s.run({ x: xs, dy: dys })).dw.data;
  ref ??= r; let e = 0, mx = 0; for (let i = 0; i < r.length; i++) { e = Math.max(e, Math.abs(r[i] - ref[i])); mx = Math.max(mx, Math.abs(ref[i])); }
  const t = []; for (let i = 0; i < 11; i++) { const t0 = performance.now(); await s.run({ x: xs, dy: dys }); t.push(performance.now() - t0); } t.sort((a, b) => a - b);
  console.log(kind.padEnd(16), t[5].toFixed(2), 'ms', 'err', (e / mx).toExponential(1), r.length);
}
