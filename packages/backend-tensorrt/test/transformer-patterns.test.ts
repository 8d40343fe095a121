import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { DataType, Graph, Model, Tensor, countMatches, insertQdq, loadModel, modelToBytes, transform, type PatternMatch, type QuantizedModel, type Value } from '@qdeploy/core';
import { TENSORRT_PATTERNS, tensorrtPatterns } from '../src/index.js';
import { buildVit, buildVitB16, type VitOptions } from '../src/testing/vit.js';
import { maxRelativeError, randomInput, runModel, vendored } from './helpers.js';

const ALL_LINEAR = tensorrtPatterns({ minLinearSize: 0 });

/** MatMuls with two run-time inputs whose both inputs go through a QuantStub requested for that very MatMul. */
function attentionMatMulsQuantized(q: QuantizedModel): { total: number; quantized: number } {
  const matmuls = q.model.graph.nodesOf('MatMul').filter((n) => n.inputs.every((v) => v && !v.constant()));
  const stubbed = (n: (typeof matmuls)[number], i: number) => q.stubs().some((s) => s.tensor === n.input(i) && s.uses.some((u) => u.node === n && u.index === i));
  return { total: matmuls.length, quantized: matmuls.filter((n) => stubbed(n, 0) && stubbed(n, 1)).length };
}

/** Checks shared by every transformer: LayerNorms and residual Adds float, stubs where the matches asked. */
function checkPlacement(q: QuantizedModel, matches: readonly PatternMatch[]): void {
  const stubbedUse = (node: unknown, value: unknown) => q.stubs().some((s) => s.tensor === value && s.uses.some((u) => u.node === node));
  for (const m of matches.filter((x) => x.pattern.name === 'LayerNorm')) {
    expect(q.quantizersOf(m)).toEqual([]);
    for (const n of m.nodes) for (const v of n.inputs) expect(stubbedUse(n, v)).toBe(false);
  }
  // No weight of a LayerNorm (or any float group) is quantized.
  const floatNodes = new Set(matches.filter((m) => m.qdqPoints.length === 0).flatMap((m) => m.nodes));
  for (const w of q.weightQuantizers()) for (const m of w.matches) expect(m.nodes.some((n) => floatNodes.has(n))).toBe(false);
  // Residual Adds (two run-time inputs, in no group) stay float.
  const claimed = new Set(matches.flatMap((m) => m.nodes));
  for (const add of q.model.graph.nodesOf('Add').filter((n) => !claimed.has(n) && n.inputs.every((v) => v && !v.constant()))) {
    for (const v of add.inputs) expect(stubbedUse(add, v)).toBe(false);
  }
  // Every attention match quantizes the four MatMul inputs, each read by the right MatMul.
  for (const m of matches.filter((x) => x.pattern.name === 'MultiHeadAttention')) {
    const { qk, sv } = m.captured;
    expect(stubbedUse(qk, m.roles.query)).toBe(true);
    expect(stubbedUse(qk, m.roles.key)).toBe(true);
    expect(stubbedUse(sv, m.roles.probs)).toBe(true);
    expect(stubbedUse(sv, m.roles.value)).toBe(true);
    expect(m.roles.probs!.producer!.opType).toBe('Softmax');
    // The softmax output is the only tensor stubbed inside the group (TensorRT's fused MHA wants it INT8).
    // (With q and kᵀ pre-scaled inside the group, the scaled query and key are produced inside it too.)
    const inside = q.stubs().filter((s) => s.matches.includes(m) && m.nodes.includes(s.tensor.producer!));
    const expected = [m.captured.queryScale && m.roles.query, m.captured.keyScale && m.roles.key, m.roles.probs].filter(Boolean);
    expect(inside.map((s) => s.tensor.name).sort()).toEqual(expected.map((v) => v!.name).sort());
  }
}

async function exportRuns(q: QuantizedModel, feeds: Record<string, ort.Tensor>, expectLength: number): Promise<void> {
  const qdq = q.toExportModel({ quiet: true });
  const counts = q.counts();
  const ops = qdq.graph.opCounts();
  expect(ops.QuantizeLinear).toBe(counts.QuantStub);
  expect(ops.DequantizeLinear).toBe(counts.QuantStub + counts.WeightFakeQuantize);
  const out = await runModel(qdq, feeds);
  expect(out.logits!.length).toBe(expectLength);
  expect(out.logits!.every(Number.isFinite)).toBe(true);
}

describe('transformer patterns on the trained fixture ViT (3 blocks, 4 heads, d = 64, separate Q/K/V)', () => {
  const original = () => loadModel(vendored('fmnist_vit_small.onnx'));
  const feeds = () => {
    const dims = [2, 1, 28, 28];
    return { input: new ort.Tensor('float32', randomInput(dims), dims) };
  };

  it('every Linear quantized (size rule off): counts, placement, FP32 equivalence, QDQ export runs', async () => {
    const m0 = original();
    const before = modelToBytes(m0);
    const { model, matches, unmatched } = transform(m0, { patterns: ALL_LINEAR });
    // Per block: Q, K, V, output projection, fc2 (Linear) + fc1 → GELU (LinearAct), one attention core,
    // two LayerNorms; plus the final LayerNorm, the classifier Gemm and the patch-embedding conv.
    expect(countMatches(matches)).toEqual({ ConvBN: 1, LayerNorm: 7, Linear: 3 * 5 + 1, LinearAct: 3, MultiHeadAttention: 3 });
    expect(Buffer.from(modelToBytes(m0)).equals(Buffer.from(before))).toBe(true);
    // What stays outside every group: the shape arithmetic, head reshapes/transposes, the 6 residual
    // Adds + the position-embedding Add, and the token mean-pooling.
    const left = unmatched.filter((n) => !['Shape', 'Constant', 'Gather', 'Unsqueeze', 'Concat', 'Slice', 'Cast', 'Reshape', 'Transpose', 'Div', 'Pow'].includes(n.opType));
    expect(left.map((n) => n.opType).sort()).toEqual([...Array(7).fill('Add'), 'ReduceMean']);

    const f = feeds();
    const ref = await runModel(m0, f);
    const got = await runModel(model, f);
    expect(maxRelativeError(ref.logits!, got.logits!)).toBeLessThanOrEqual(1e-4);

    const q = insertQdq(model, matches);
    // Stubs: the image, then per block the LN1 output (shared by Q/K/V), query, key, probs, value,
    // the merged heads (output projection input), the LN2 output and the GELU output; the pooled tokens.
    expect(q.counts()).toEqual({ QuantStub: 1 + 3 * 8 + 1, WeightFakeQuantize: 1 + 3 * 6 + 1 });
    expect(attentionMatMulsQuantized(q)).toEqual({ total: 6, quantized: 6 });
    checkPlacement(q, matches);
    const ln1 = q.stubs().find((s) => s.tensor.name === '/blocks/blocks.0/n1/LayerNormalization_output_0')!;
    expect(ln1.uses.map((u) => u.node.name).sort()).toEqual(['/blocks/blocks.0/k/MatMul', '/blocks/blocks.0/q/MatMul', '/blocks/blocks.0/v/MatMul']);
    await exportRuns(q, f, 20);
  });

  it('default size rule: the 64-wide token Linear layers stay float, attention is still quantized', async () => {
    const { model, matches } = transform(original(), { patterns: TENSORRT_PATTERNS });
    // 64×64 → K·N/(K+N) = 32, 64×128 → 42.7: all below 256. The classifier Gemm (M = batch) is outside the rule's scope.
    expect(countMatches(matches)).toEqual({ ConvBN: 1, LayerNorm: 7, Linear: 1, SmallLinear: 18, MultiHeadAttention: 3 });
    const q = insertQdq(model, matches);
    expect(q.counts()).toEqual({ QuantStub: 1 + 3 * 4 + 1, WeightFakeQuantize: 2 });
    expect(attentionMatMulsQuantized(q)).toEqual({ total: 6, quantized: 6 });
    for (const m of matches.filter((x) => x.pattern.name === 'SmallLinear')) expect(q.quantizersOf(m)).toEqual([]);
    checkPlacement(q, matches);
    await exportRuns(q, feeds(), 20);

    // Scope "all": the 64→10 head is small too.
    const all = transform(original(), { patterns: tensorrtPatterns({ sizeRuleScope: 'all' }) });
    expect(countMatches(all.matches)).toEqual({ ConvBN: 1, LayerNorm: 7, SmallLinear: 19, MultiHeadAttention: 3 });
    // A lower threshold: 64×128 layers (42.7) pass at 40, 64×64 ones (32) do not.
    const low = transform(original(), { patterns: tensorrtPatterns({ minLinearSize: 40 }) });
    expect(countMatches(low.matches)).toEqual({ ConvBN: 1, LayerNorm: 7, Linear: 1 + 3, LinearAct: 3, SmallLinear: 12, MultiHeadAttention: 3 });
  });
});

describe('ViT-B/16 generated with the exporter layout (12 blocks, d = 768, fused QKV, class token)', () => {
  it('per-block counts, quantized attention MatMuls, untouched LayerNorms, FP32 equivalence', async () => {
    const original = buildVitB16();
    expect(original.graph.initializers().reduce((s, v) => s + v.initializer!.size, 0)).toBeGreaterThan(86e6);
    const { model, matches } = transform(original, { patterns: TENSORRT_PATTERNS });
    // Default size rule: QKV 768×2304 → 576, proj 768×768 → 384, fc1/fc2 768×3072 → 614: all quantized.
    expect(countMatches(matches)).toEqual({ ConvBN: 1, LayerNorm: 25, Linear: 12 * 3 + 1, LinearAct: 12, MultiHeadAttention: 12 });
    const inBlocks = (m: PatternMatch) => m.anchor.name.startsWith('/blocks/');
    expect(matches.filter((m) => inBlocks(m) && m.pattern.name.startsWith('Linear')).length).toBe(48);
    for (let b = 0; b < 12; b++) {
      const block = matches.filter((m) => m.anchor.name.startsWith(`/blocks/blocks.${b}/`));
      expect(countMatches(block)).toEqual({ LayerNorm: 2, Linear: 3, LinearAct: 1, MultiHeadAttention: 1 });
    }
    const q = insertQdq(model, matches);
    expect(attentionMatMulsQuantized(q)).toEqual({ total: 24, quantized: 24 });
    expect(q.counts()).toEqual({ QuantStub: 1 + 12 * 8 + 1, WeightFakeQuantize: 1 + 48 + 1 });
    checkPlacement(q, matches);
    const lns = model.graph.nodesOf('LayerNormalization');
    expect(lns).toHaveLength(25);
    const qdq = q.toExportModel({ quiet: true });
    for (const ln of qdq.graph.nodesOf('LayerNormalization')) {
      for (const v of ln.inputs) expect(v!.producer?.opType ?? 'initializer').not.toBe('DequantizeLinear');
    }

    const dims = [1, 3, 224, 224];
    const feeds = { input: new ort.Tensor('float32', randomInput(dims), dims) };
    const ref = await runModel(original, feeds);
    const got = await runModel(model, feeds);
    expect(ref.logits!.length).toBe(1000);
    expect(ref.logits!.every(Number.isFinite)).toBe(true);
    expect(maxRelativeError(ref.logits!, got.logits!)).toBeLessThanOrEqual(1e-4);
  });
});

describe('the ways exporters write attention, LayerNorm and GELU', () => {
  const small: VitOptions = { image: 32, channels: 3, patch: 8, dim: 64, depth: 2, heads: 4, mlp: 128, classes: 10 };
  const variants: [string, VitOptions][] = [
    ['fused QKV → Reshape/Transpose/Gather, scale after (timm)', { qkv: 'fused' }],
    ['fused QKV → Split, Div scale, additive mask', { qkv: 'fused-split', scale: 'after-div', mask: 'add' }],
    ['fused QKV → Slice, q and kᵀ pre-scaled (SDPA), masked_fill', { qkv: 'fused-slice', scale: 'before', mask: 'where' }],
    ['separate Q/K/V, decomposed LayerNorm, mean pooling', { qkv: 'separate', layerNorm: 'decomposed', classToken: false }],
    ['Gelu op (opset 20), decomposed LayerNorm, pre-scaled', { gelu: 'op', layerNorm: 'decomposed', scale: 'before' }],
  ];
  for (const [label, v] of variants) {
    it(label, async () => {
      const original = buildVit({ ...small, ...v });
      const { model, matches } = transform(original, { patterns: ALL_LINEAR });
      const perBlock = v.qkv === 'separate' ? 6 : 4;
      expect(countMatches(matches)).toEqual({ ConvBN: 1, LayerNorm: 5, Linear: 2 * (perBlock - 1) + 1, LinearAct: 2, MultiHeadAttention: 2 });
      if (v.scale === 'before') for (const m of matches.filter((x) => x.pattern.name === 'MultiHeadAttention')) expect(Object.keys(m.captured)).toEqual(expect.arrayContaining(['queryScale', 'keyScale']));
      if (v.mask && v.mask !== 'none') for (const m of matches.filter((x) => x.pattern.name === 'MultiHeadAttention')) expect(m.captured.mask).toBeDefined();
      const q = insertQdq(model, matches);
      expect(attentionMatMulsQuantized(q)).toEqual({ total: 4, quantized: 4 });
      checkPlacement(q, matches);
      const dims = [2, 3, 32, 32];
      const feeds = { input: new ort.Tensor('float32', randomInput(dims, 7), dims) };
      const ref = await runModel(original, feeds);
      const got = await runModel(model, feeds);
      expect(maxRelativeError(ref.logits!, got.logits!)).toBeLessThanOrEqual(1e-4);
      await exportRuns(q, feeds, 20);
    });
  }

  it('attention probabilities read outside the core: AttentionQK + AttentionSV instead of one group', async () => {
    const original = buildVit({ ...small, depth: 1 });
    const g = original.graph;
    const probs = g.nodesOf('Softmax')[0]!.output();
    probs.type = { tensorType: { elemType: 1 } };
    g.outputs.push(probs); // e.g. nn.MultiheadAttention returning its attention weights
    const { model, matches } = transform(original, { patterns: ALL_LINEAR });
    expect(countMatches(matches)).toEqual({ ConvBN: 1, LayerNorm: 3, Linear: 4, LinearAct: 1, AttentionQK: 1, AttentionSV: 1 });
    const q = insertQdq(model, matches);
    expect(attentionMatMulsQuantized(q)).toEqual({ total: 2, quantized: 2 });
    // The probabilities output itself stays float: only the ·V MatMul reads the dequantized tensor.
    const stub = q.stubs().find((s) => s.tensor === model.graph.nodesOf('Softmax')[0]!.output())!;
    expect(stub.uses.map((u) => u.node.opType)).toEqual(['MatMul']);
  });
});

describe('GEMV-shaped MatMuls stay float', () => {
  /** A ViT whose token Linear layers have 512 inputs and a statically known input shape [1, rows, K]. */
  function withStaticRows(rows: number): Model {
    const m = buildVit({ image: 16, channels: 1, patch: 8, dim: 512, depth: 1, heads: 8, mlp: 512, classes: 10 });
    for (const mm of m.graph.nodesOf('MatMul').filter((x) => x.input(1)?.constant())) {
      const k = mm.input(1)!.constant()!.dims[0]!;
      mm.input(0)!.type = { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }, { dimValue: rows }, { dimValue: k }] } } };
    }
    return m;
  }

  it('a Linear with M = 1 (known from the shape) or N = 1 is left in float; 512-wide ones are quantized otherwise', () => {
    const big = transform(withStaticRows(5), { patterns: TENSORRT_PATTERNS });
    // 512×1536 → 384, 512×512 → 256: quantized.
    expect(countMatches(big.matches)).toEqual({ ConvBN: 1, LayerNorm: 3, Linear: 4, LinearAct: 1, MultiHeadAttention: 1 });
    const gemv = transform(withStaticRows(1), { patterns: TENSORRT_PATTERNS });
    expect(countMatches(gemv.matches)).toEqual({ ConvBN: 1, LayerNorm: 3, Linear: 1, SmallLinear: 4, MultiHeadAttention: 1 });
  });

  it('an attention MatMul over a single query row is not an attention match', () => {
    const m = buildVit({ image: 16, channels: 1, patch: 8, dim: 64, depth: 1, heads: 4, mlp: 128, classes: 10 });
    const qk = m.graph.nodesOf('MatMul').find((x) => !x.input(1)?.constant())!;
    qk.input(0)!.type = { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 4 }, { dimValue: 1 }, { dimValue: 16 }] } } };
    const { matches } = transform(m, { patterns: ALL_LINEAR });
    expect(countMatches(matches).MultiHeadAttention).toBeUndefined();
    expect(countMatches(matches).AttentionQK).toBeUndefined();
  });

  it('a Linear with a single output column (N = 1) is left in float', () => {
    const m = buildVit({ image: 16, channels: 1, patch: 8, dim: 64, depth: 1, heads: 4, mlp: 128, classes: 1 });
    const { matches } = transform(m, { patterns: ALL_LINEAR });
    const head = matches.find((x) => x.anchor.name === '/head/Gemm')!;
    expect(head.pattern.name).toBe('SmallLinear');
  });
});

describe('LayerNorm written by hand', () => {
  /** x → LayerNorm (Mul(d, d) for the square, Mul by Reciprocal for the division, optional affine) → Linear. */
  function handWritten(affine: 'both' | 'scale' | 'none'): Model {
    const g = new Graph();
    const x = g.getOrCreateValue('input');
    x.type = { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 8 }, { dimValue: 16 }] } } };
    g.inputs.push(x);
    const c = (name: string, data: number[], dims: number[]) => g.addInitializer(name, Tensor.fromArray(Float32Array.from(data), dims));
    const n = (opType: string, inputs: Value[], attrs = {}) => g.addNode({ opType, name: g.uniqueName(opType), inputs, attrs }).output();
    const mean = n('ReduceMean', [x], { axes: [-1], keepdims: 1 });
    const d = n('Sub', [x, mean]);
    const variance = n('ReduceMean', [n('Mul', [d, d])], { axes: [-1], keepdims: 1 });
    const std = n('Sqrt', [n('Add', [c('eps', [1e-5], []), variance])]);
    let y = n('Mul', [n('Reciprocal', [std]), d]);
    if (affine !== 'none') y = n('Mul', [c('gamma', Array.from({ length: 16 }, (_, i) => 1 + i / 32), [16]), y]);
    if (affine === 'both') y = n('Add', [y, c('beta', Array.from({ length: 16 }, (_, i) => i / 64), [16])]);
    const w = c('w', Array.from({ length: 16 * 512 }, (_, i) => Math.sin(i) / 8), [16, 512]);
    const out = n('Add', [n('MatMul', [y, w]), c('b', Array(512).fill(0.01), [512])]);
    g.rename(out, 'logits');
    out.type = { tensorType: { elemType: DataType.FLOAT } };
    g.outputs.push(out);
    return new Model(g, { irVersion: 8, opsetImport: [{ domain: '', version: 17 }] });
  }

  for (const affine of ['both', 'scale', 'none'] as const) {
    it(`ReduceMean/Sub/Mul/Sqrt/Reciprocal form, affine: ${affine}`, async () => {
      const original = handWritten(affine);
      const { model, matches } = transform(original, { patterns: ALL_LINEAR });
      expect(countMatches(matches)).toEqual({ LayerNorm: 1, Linear: 1 });
      const ln = matches.find((m) => m.pattern.name === 'LayerNorm')!;
      expect(ln.nodes).toHaveLength({ both: 10, scale: 9, none: 8 }[affine]);
      const q = insertQdq(model, matches);
      // The LayerNorm output is the Linear's input (quantized there); the γ, β constants are not quantized.
      expect(q.counts()).toEqual({ QuantStub: 1, WeightFakeQuantize: 1 });
      expect(q.stubs()[0]!.tensor).toBe(ln.anchor.output(0));
      const dims = [2, 8, 16];
      const feeds = { input: new ort.Tensor('float32', randomInput(dims, 3), dims) };
      await exportRuns(q, feeds, 2 * 8 * 512);
    });
  }
});
