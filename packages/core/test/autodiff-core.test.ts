import { describe, expect, it } from 'vitest';
import { gradCheck, node } from './helpers/gradcheck.js';

// float32 checks (ops onnxruntime's CPU provider runs in float only): eps 1e-2, so the
// bound is on the error relative to the largest gradient element and on the cosine.
const F32 = { precision: 'float32' as const };
const f32ok = (r: { maxRelError: number; minCosine: number }) => {
  expect(r.maxRelError).toBeLessThan(2e-3);
  expect(r.minCosine).toBeGreaterThan(0.99999);
};

describe('autodiff: Conv against finite differences', () => {
  const conv = (x: number[], w: number[], attrs: Record<string, unknown>, bias = true) => gradCheck({
    ...F32,
    inputs: { x: { shape: x }, w: { shape: w }, ...(bias ? { b: { shape: [w[0]!] } } : {}) },
    build: (g, v) => node(g, 'Conv', bias ? [v.x!, v.w!, v.b!] : [v.x!, v.w!], attrs),
  });
  it('3×3, padded, stride 1', async () => f32ok(await conv([2, 3, 5, 5], [4, 3, 3, 3], { pads: [1, 1, 1, 1] })));
  it('3×3, stride 2, padded (odd input: output_padding)', async () => f32ok(await conv([2, 2, 7, 6], [3, 2, 3, 3], { pads: [1, 1, 1, 1], strides: [2, 2] })));
  it('3×3 stride 2 with more channels than output positions (dW as one GEMM over the whole batch)', async () => f32ok(await conv([2, 8, 3, 3], [10, 8, 3, 3], { pads: [1, 1, 1, 1], strides: [2, 2] })));
  it('1×1 stride 2 (ResNet shortcut), no bias', async () => f32ok(await conv([2, 3, 6, 6], [4, 3, 1, 1], { strides: [2, 2] }, false)));
  it('1×1 stride 1 (im2col skipped)', async () => f32ok(await conv([2, 3, 4, 4], [5, 3, 1, 1], {})));
  it('dilated, asymmetric pads', async () => f32ok(await conv([1, 2, 7, 7], [2, 2, 3, 3], { dilations: [2, 2], pads: [1, 2, 0, 1] })));
  it('grouped (group 2, 2 outputs per group)', async () => f32ok(await conv([2, 4, 5, 5], [4, 2, 3, 3], { group: 2, pads: [1, 1, 1, 1] })));
  it('depthwise, stride 2', async () => f32ok(await conv([2, 3, 6, 6], [3, 1, 3, 3], { group: 3, pads: [1, 1, 1, 1], strides: [2, 2] })));
  it('depthwise, stride 1, padded (dW by shifted slices)', async () => f32ok(await conv([2, 3, 5, 5], [3, 1, 3, 3], { group: 3, pads: [1, 1, 1, 1] })));
  it('depthwise, stride 1, dilated, asymmetric pads, bias', async () => f32ok(await conv([2, 2, 7, 6], [2, 1, 3, 2], { group: 2, pads: [2, 0, 1, 1], dilations: [2, 1] }, true)));
  it('depthwise, stride 1, unpadded', async () => f32ok(await conv([1, 4, 4, 4], [4, 1, 2, 2], { group: 4 })));
  it('depthwise with multiplier 2', async () => f32ok(await conv([1, 2, 5, 5], [4, 1, 3, 3], { group: 2, pads: [1, 1, 1, 1] })));
  it('auto_pad SAME_UPPER, stride 2', async () => f32ok(await conv([1, 2, 6, 5], [2, 2, 3, 3], { auto_pad: 'SAME_UPPER', strides: [2, 2] })));
  it('non-square kernel, patchify (4×4 stride 4, ViT stem)', async () => f32ok(await conv([2, 1, 8, 8], [3, 1, 4, 4], { strides: [4, 4] })));
});

describe('autodiff: Gemm and MatMul (float64)', () => {
  for (const [ta, tb] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
    it(`Gemm transA=${ta} transB=${tb}, α, β, broadcast bias`, async () => {
      const r = await gradCheck({
        inputs: { a: { shape: ta ? [4, 3] : [3, 4] }, b: { shape: tb ? [5, 4] : [4, 5] }, c: { shape: [1, 5] } },
        build: (g, x) => node(g, 'Gemm', [x.a!, x.b!, x.c!], { transA: ta, transB: tb, alpha: 0.7, beta: 1.3 }),
      });
      expect(r.maxRelError).toBeLessThan(1e-6);
    });
  }
  const matmul = (a: number[], b: number[]) => gradCheck({ inputs: { a: { shape: a }, b: { shape: b } }, build: (g, x) => node(g, 'MatMul', [x.a!, x.b!]) });
  it('MatMul 2-D', async () => expect((await matmul([3, 4], [4, 2])).maxRelError).toBeLessThan(1e-6));
  it('MatMul batched activation × weight', async () => expect((await matmul([2, 3, 4], [4, 5])).maxRelError).toBeLessThan(1e-6));
  it('MatMul batched, both dynamic (attention), broadcast batch', async () => expect((await matmul([2, 3, 3, 4], [3, 4, 2])).maxRelError).toBeLessThan(1e-6));
  it('MatMul 1-D operands', async () => {
    expect((await matmul([4], [2, 4, 3])).maxRelError).toBeLessThan(1e-6);
    expect((await matmul([2, 3, 4], [4])).maxRelError).toBeLessThan(1e-6);
  });
});

describe('autodiff: element-wise ops with broadcasting (float64)', () => {
  for (const op of ['Add', 'Sub', 'Mul', 'Div']) {
    it(`${op} [2,3,4] ∘ [3,1] and [1] ∘ [2,3]`, async () => {
      const pos = (n: number) => Array.from({ length: n }, (_, i) => 0.5 + ((i * 37) % 11) / 10); // Div: keep B away from 0
      const r1 = await gradCheck({ inputs: { a: { shape: [2, 3, 4] }, b: { shape: [3, 1], data: pos(3) } }, build: (g, x) => node(g, op, [x.a!, x.b!]) });
      const r2 = await gradCheck({ inputs: { a: { shape: [1] }, b: { shape: [2, 3], data: pos(6) } }, build: (g, x) => node(g, op, [x.a!, x.b!]) });
      expect(Math.max(r1.maxRelError, r2.maxRelError)).toBeLessThan(1e-6);
    });
  }
  it('Mul of a value by itself (two contributions to one input)', async () => {
    const r = await gradCheck({ inputs: { a: { shape: [2, 3] } }, build: (g, x) => node(g, 'Mul', [x.a!, x.a!]) });
    expect(r.maxRelError).toBeLessThan(1e-6);
  });
  for (const op of ['Exp', 'Neg', 'Identity']) {
    it(op, async () => expect((await gradCheck({ inputs: { a: { shape: [2, 3] } }, build: (g, x) => node(g, op, [x.a!]) })).maxRelError).toBeLessThan(1e-6));
  }
  it('Log', async () => {
    const r = await gradCheck({ inputs: { a: { shape: [2, 3], data: [0.5, 1, 1.5, 2, 2.5, 3] } }, build: (g, x) => node(g, 'Log', [x.a!]) });
    expect(r.maxRelError).toBeLessThan(1e-6);
  });
});

describe('autodiff: activations, pooling, shapes', () => {
  // Inputs kept ≥ 0.05 away from the kinks so ±eps does not cross them.
  const awayFromKinks = (n: number, kinks: number[]) => Array.from({ length: n }, (_, i) => {
    let v = -1.9 + (3.8 * ((i * 7919) % n)) / n;
    while (kinks.some((k) => Math.abs(v - k) < 0.05)) v += 0.1;
    return v;
  });
  it('Relu', async () => {
    const r = await gradCheck({ inputs: { a: { shape: [3, 8], data: awayFromKinks(24, [0]) } }, build: (g, x) => node(g, 'Relu', [x.a!]) });
    expect(r.maxRelError).toBeLessThan(1e-6);
  });
  it('Clip (ReLU6-style bounds as inputs)', async () => {
    const r = await gradCheck({
      ...F32,
      inputs: { a: { shape: [3, 8], data: awayFromKinks(24, [-1, 1]) }, lo: { shape: [], data: [-1], constant: true }, hi: { shape: [], data: [1], constant: true } },
      build: (g, x) => node(g, 'Clip', [x.a!, x.lo!, x.hi!]),
    });
    f32ok(r);
  });
  it('GlobalAveragePool, Flatten, Reshape', async () => {
    const r = await gradCheck({
      ...F32,
      inputs: { a: { shape: [2, 3, 4, 5] }, s: { shape: [2], data: [3, 2], int64: true, constant: true } },
      build: (g, x) => node(g, 'Reshape', [node(g, 'Flatten', [node(g, 'GlobalAveragePool', [x.a!])], { axis: 1 }), x.s!]),
    });
    f32ok(r);
  });
  it('ReduceMean (attribute axes) and ReduceSum (input axes, keepdims 0)', async () => {
    const r = await gradCheck({
      inputs: { a: { shape: [2, 3, 4] }, ax: { shape: [1], data: [-1], int64: true, constant: true } },
      build: (g, x) => node(g, 'ReduceSum', [node(g, 'ReduceMean', [x.a!], { axes: [1], keepdims: 1 }), x.ax!], { keepdims: 0 }),
    });
    expect(r.maxRelError).toBeLessThan(1e-6);
  });
  it('Softmax and LogSoftmax', async () => {
    for (const op of ['Softmax', 'LogSoftmax']) {
      for (const axis of [-1, 1]) {
        const r = await gradCheck({ inputs: { a: { shape: [2, 4, 3] } }, build: (g, x) => node(g, op, [x.a!], { axis }) });
        expect(r.maxRelError).toBeLessThan(1e-6);
      }
    }
  });
});
