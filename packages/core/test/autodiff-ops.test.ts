import { describe, expect, it } from 'vitest';
import { DataType } from '../src/index.js';
import { gradCheck, node, type GradCheckSpec } from './helpers/gradcheck.js';

const F32 = { precision: 'float32' as const };
/** float64: finite differences agree to ~1e-8; float32 (ops without double kernels): relative to max and cosine. */
async function ok(spec: GradCheckSpec) {
  const r = await gradCheck(spec);
  if ((spec.precision ?? 'float64') === 'float64') expect(r.maxRelError).toBeLessThan(1e-6);
  else {
    expect(r.maxRelError).toBeLessThan(2e-3);
    expect(r.minCosine).toBeGreaterThan(0.99999);
  }
  return r;
}
/** Distinct values (spaced 0.1 apart, shuffled): max-pooling never ties or flips under ±eps. */
const distinct = (n: number) => Array.from({ length: n }, (_, i) => (((i * 7919) % n) - n / 2) * 0.1);
/** Values ≥ 0.05 away from every kink. */
const awayFrom = (n: number, kinks: number[], span = 3.8) => Array.from({ length: n }, (_, i) => {
  let v = -span / 2 + (span * ((i * 7919) % n)) / n;
  while (kinks.some((k) => Math.abs(v - k) < 0.05)) v += 0.1;
  return v;
});
const unary = (op: string, attrs: Record<string, unknown> = {}, data?: number[], extra: Partial<GradCheckSpec> = {}) =>
  ok({ inputs: { a: { shape: [3, 8], data } }, build: (g, x) => node(g, op, [x.a!], attrs), ...extra });

describe('autodiff: ConvTranspose and pooling (float32)', () => {
  it('ConvTranspose stride 2 with output_padding, bias', async () => {
    await ok({ ...F32, inputs: { x: { shape: [2, 3, 3, 4] }, w: { shape: [3, 2, 3, 3] }, b: { shape: [2] } },
      build: (g, v) => node(g, 'ConvTranspose', [v.x!, v.w!, v.b!], { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 0] }) });
  });
  it('ConvTranspose grouped, output_shape', async () => {
    await ok({ ...F32, inputs: { x: { shape: [1, 4, 3, 3] }, w: { shape: [4, 1, 2, 2] } },
      build: (g, v) => node(g, 'ConvTranspose', [v.x!, v.w!], { strides: [2, 2], group: 2, output_shape: [6, 7] }) });
  });
  it('AveragePool 3×3 stride 2, padded, count_include_pad 0 and 1', async () => {
    for (const cip of [0, 1]) {
      await ok({ ...F32, inputs: { x: { shape: [2, 2, 5, 6] } },
        build: (g, v) => node(g, 'AveragePool', [v.x!], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: cip }) });
    }
  });
  it('AveragePool ceil_mode (last window past the end)', async () => {
    await ok({ ...F32, inputs: { x: { shape: [1, 2, 6, 6] } }, build: (g, v) => node(g, 'AveragePool', [v.x!], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 }) });
  });
  it('MaxPool 3×3 stride 2 padded (overlapping windows), with and without an Indices output', async () => {
    await ok({ inputs: { x: { shape: [2, 2, 6, 5], data: distinct(120) } },
      build: (g, v) => node(g, 'MaxPool', [v.x!], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }) });
    await ok({ inputs: { x: { shape: [1, 3, 4, 4], data: distinct(48) } },
      build: (g, v) => g.addNode({ opType: 'MaxPool', name: 'mp', inputs: [v.x!], attrs: { kernel_shape: [2, 2], strides: [2, 2] }, outputs: 2 }).output() });
  });
});

describe('autodiff: activations and element-wise math (float64)', () => {
  it('LeakyRelu', () => unary('LeakyRelu', { alpha: 0.1 }, awayFrom(24, [0])));
  it('Sigmoid, Tanh', async () => { for (const op of ['Sigmoid', 'Tanh']) await unary(op); });
  it('Erf (float32: no double kernel)', () => unary('Erf', {}, undefined, F32));
  it('HardSigmoid', () => unary('HardSigmoid', { alpha: 0.3, beta: 0.4 }, awayFrom(24, [-4 / 3, 2], 6), F32));
  it('HardSwish', () => unary('HardSwish', {}, awayFrom(24, [-3, 3], 8), F32));
  it('SiLU as X·Sigmoid(X)', () => ok({ inputs: { a: { shape: [3, 5] } }, build: (g, x) => node(g, 'Mul', [x.a!, node(g, 'Sigmoid', [x.a!])]) }));
  it('Erf-GELU as exported (Div by √2, Erf, Add 1, Mul, Mul ½)', () => ok({
    ...F32, inputs: { a: { shape: [3, 5] }, r2: { shape: [], data: [Math.SQRT2], constant: true }, one: { shape: [], data: [1], constant: true }, half: { shape: [], data: [0.5], constant: true } },
    build: (g, x) => node(g, 'Mul', [node(g, 'Mul', [x.a!, node(g, 'Add', [node(g, 'Erf', [node(g, 'Div', [x.a!, x.r2!])]), x.one!])]), x.half!]),
  }));
  it('Gelu op (opset 20)', () => ok({ ...F32, opset: 20, inputs: { a: { shape: [3, 5] } }, build: (g, x) => node(g, 'Gelu', [x.a!]) }));
  it('Sqrt, Reciprocal, Abs', async () => {
    const pos = awayFrom(24, [0]).map((v) => Math.abs(v) + 0.3);
    await unary('Sqrt', {}, pos);
    await unary('Reciprocal', {}, pos);
    await unary('Abs', {}, awayFrom(24, [0]));
  });
  it('Pow: constant exponents 2 and 0.5, and a trainable exponent', async () => {
    const pos = awayFrom(15, [0]).map((v) => Math.abs(v) + 0.3);
    for (const k of [2, 0.5, 3]) {
      await ok({ inputs: { a: { shape: [3, 5], data: pos }, k: { shape: [], data: [k], constant: true } }, build: (g, x) => node(g, 'Pow', [x.a!, x.k!]) });
    }
    await ok({ inputs: { a: { shape: [3, 5], data: pos }, k: { shape: [1], data: [1.7] } }, build: (g, x) => node(g, 'Pow', [x.a!, x.k!]) });
  });
  it('Where (broadcast branches; the condition is a stop edge)', () => ok({
    inputs: { a: { shape: [2, 3] }, b: { shape: [3] } },
    build: (g, x) => node(g, 'Where', [node(g, 'Greater', [x.a!, x.b!]), x.a!, x.b!]),
  }));
});

describe('autodiff: shape and data movement (float64)', () => {
  const ints = (data: number[]) => ({ shape: [data.length], data, int64: true, constant: true });
  it('Transpose', () => ok({ inputs: { a: { shape: [2, 3, 4] } }, build: (g, x) => node(g, 'Transpose', [x.a!], { perm: [1, 2, 0] }) }));
  it('Squeeze, Unsqueeze, Expand', () => ok({
    inputs: { a: { shape: [3, 1, 2] }, ax: ints([1]), ax2: ints([0]), s: ints([4, 3, 2]) },
    build: (g, x) => node(g, 'Expand', [node(g, 'Squeeze', [node(g, 'Unsqueeze', [node(g, 'Squeeze', [x.a!, x.ax!]), x.ax2!]), x.ax2!]), x.s!]),
  }));
  it('Concat (three inputs, one repeated)', () => ok({
    inputs: { a: { shape: [2, 3] }, b: { shape: [2, 1] } }, build: (g, x) => node(g, 'Concat', [x.a!, x.b!, x.a!], { axis: 1 }),
  }));
  it('Split (one output unused)', () => ok({
    inputs: { a: { shape: [5, 2] }, s: ints([2, 1, 2]) },
    build: (g, x) => {
      const split = g.addNode({ opType: 'Split', name: 'split', inputs: [x.a!, x.s!], attrs: { axis: 0 }, outputs: 3 });
      return node(g, 'Concat', [split.outputs[2]!, split.outputs[0]!], { axis: 0 });
    },
  }));
  it('Slices that split a value (a packed q/k/v): the gradient is one Concat of the parts, no Pads or Sum; a partial split still sums', async () => {
    // x [2, 9] cut into columns [0,3), [3,6), [6,9), each scaled differently, then joined back.
    const spec = (cuts: number[][]): GradCheckSpec => ({
      inputs: {
        a: { shape: [2, 9] }, ax: ints([1]),
        ...Object.fromEntries(cuts.flatMap(([a, b], k) => [[`s${k}`, ints([a!])], [`e${k}`, ints([b!])], [`w${k}`, { shape: [1], data: [k + 1.5], wrt: false }]])),
      },
      build: (g, x) => node(g, 'Concat', cuts.map((_, k) => node(g, 'Mul', [node(g, 'Slice', [x.a!, x[`s${k}`]!, x[`e${k}`]!, x.ax!]), x[`w${k}`]!])), { axis: 1 }),
    });
    const count = (r: Awaited<ReturnType<typeof ok>>, op: string) => r.graph.nodes.filter((n) => n.opType === op).length;
    const tiled = await ok(spec([[3, 6], [0, 3], [6, 9]]));
    expect([count(tiled, 'Concat'), count(tiled, 'Pad'), count(tiled, 'Sum')]).toEqual([2, 0, 0]); // the forward's and the gradient's
    const overlapping = await ok(spec([[0, 3], [2, 6], [6, 9]])); // [2, 3) read twice: no tiling
    expect([count(overlapping, 'Concat'), count(overlapping, 'Pad'), count(overlapping, 'Sum')]).toEqual([1, 3, 1]);
  });
  it('Slice: unit steps with negative/clamped bounds, and step 2 / step −1', async () => {
    await ok({ inputs: { a: { shape: [4, 5] }, st: ints([1, -4]), en: ints([100, -1]) }, build: (g, x) => node(g, 'Slice', [x.a!, x.st!, x.en!]) });
    await ok({ inputs: { a: { shape: [4, 5] }, st: ints([0, 4]), en: ints([4, 0]), ax: ints([0, 1]), sp: ints([2, -1]) }, build: (g, x) => node(g, 'Slice', [x.a!, x.st!, x.en!, x.ax!, x.sp!]) });
  });
  it('Gather: constant scalar index (class token), repeated/negative indices, computed indices', async () => {
    await ok({ inputs: { a: { shape: [2, 3, 4] }, i: { shape: [], data: [0], int64: true, constant: true } }, build: (g, x) => node(g, 'Gather', [x.a!, x.i!], { axis: 1 }) });
    await ok({ inputs: { a: { shape: [5, 3] }, i: { shape: [2, 2], data: [4, -1, 0, 4], int64: true, constant: true } }, build: (g, x) => node(g, 'Gather', [x.a!, x.i!], { axis: 0 }) });
    await ok({ inputs: { a: { shape: [5, 3] }, i: { shape: [3], data: [1, -2, 1], int64: true } }, build: (g, x) => node(g, 'Gather', [x.a!, x.i!], { axis: 0 }) });
  });
  it('Cast float → double → float, Dropout (inference), Identity', () => ok({
    ...F32, inputs: { a: { shape: [2, 3] } },
    build: (g, x) => node(g, 'Identity', [node(g, 'Dropout', [node(g, 'Cast', [node(g, 'Cast', [x.a!], { to: DataType.DOUBLE })], { to: DataType.FLOAT })])]),
  }));
});

describe('autodiff: normalisation', () => {
  it('LayerNormalization (last axis, and last two axes)', async () => {
    await ok({ ...F32, inputs: { x: { shape: [2, 3, 4] }, s: { shape: [4] }, b: { shape: [4] } }, build: (g, v) => node(g, 'LayerNormalization', [v.x!, v.s!, v.b!], { epsilon: 1e-5 }) });
    const r = await ok({ ...F32, inputs: { x: { shape: [2, 3, 4] }, s: { shape: [3, 4] } }, build: (g, v) => node(g, 'LayerNormalization', [v.x!, v.s!], { axis: -2 }) });
    // In float32 the backward reads the forward's Mean and InvStdDev instead of recomputing them.
    expect(r.graph.nodes.find((n) => n.opType === 'LayerNormalization')!.outputs).toHaveLength(3);
    expect(r.graph.nodes.some((n) => n.name.includes('_Grad/') && (n.opType === 'Sqrt' || n.opType === 'Reciprocal'))).toBe(false);
  });
  it('decomposed LayerNorm (ReduceMean, Sub, Pow, Add, Sqrt, Div, Mul, Add)', () => ok({
    inputs: { x: { shape: [2, 3, 4] }, two: { shape: [], data: [2], constant: true }, eps: { shape: [], data: [1e-5], constant: true }, s: { shape: [4] }, b: { shape: [4] } },
    build: (g, v) => {
      const xc = node(g, 'Sub', [v.x!, node(g, 'ReduceMean', [v.x!], { axes: [-1] })]);
      const std = node(g, 'Sqrt', [node(g, 'Add', [node(g, 'ReduceMean', [node(g, 'Pow', [xc, v.two!])], { axes: [-1] }), v.eps!])]);
      return node(g, 'Add', [node(g, 'Mul', [node(g, 'Div', [xc, std]), v.s!]), v.b!]);
    },
  }));
  it('BatchNormalization in training mode (batch statistics) and inference mode', async () => {
    const stats = { m: { shape: [3], data: [0.1, -0.2, 0.3], constant: true }, var: { shape: [3], data: [0.5, 1.5, 2], constant: true } };
    for (const training_mode of [1, 0]) {
      await ok({ ...F32, inputs: { x: { shape: [2, 3, 2, 2] }, s: { shape: [3] }, b: { shape: [3] }, ...stats },
        build: (g, v) => g.addNode({ opType: 'BatchNormalization', name: 'bn', inputs: [v.x!, v.s!, v.b!, v.m!, v.var!], attrs: { training_mode, epsilon: 1e-3 }, outputs: training_mode ? 3 : 1 }).output() });
    }
  });
});

describe('autodiff: Resize (float32)', () => {
  const floats = (data: number[]) => ({ shape: [data.length], data, constant: true, wrt: false });
  const sizes = (data: number[]) => ({ shape: [data.length], data, int64: true, constant: true });
  const resize = (attrs: Record<string, unknown>, by: 'scales' | 'sizes', target: number[]) => ok({
    ...F32, inputs: { x: { shape: [1, 2, 3, 4] }, t: by === 'scales' ? floats(target) : sizes(target) },
    build: (g, v) => node(g, 'Resize', by === 'scales' ? [v.x!, null, v.t!] : [v.x!, null, null, v.t!], attrs),
  });
  it('nearest ×2 as PyTorch exports an upsample (asymmetric, floor): each input sums its 2×2 block', async () => {
    const r = await resize({ mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }, 'scales', [1, 1, 2, 2]);
    const dy = r.outputGradient; // [1, 2, 6, 8]
    const block = (c: number, h: number, w: number) => [0, 1].reduce((s, i) => s + [0, 1].reduce((t, j) => t + dy[c * 48 + (2 * h + i) * 8 + 2 * w + j]!, 0), 0);
    expect(r.analytic.x![5]).toBeCloseTo(block(0, 1, 1), 4);
  });
  it('nearest to sizes that are no multiple (half_pixel, round_prefer_floor; round_prefer_ceil)', async () => {
    await resize({ mode: 'nearest' }, 'sizes', [1, 2, 5, 7]);
    await resize({ mode: 'nearest', nearest_mode: 'round_prefer_ceil' }, 'sizes', [1, 2, 2, 3]);
  });
  it('linear: half_pixel ×2, align_corners and pytorch_half_pixel to other sizes', async () => {
    await resize({ mode: 'linear' }, 'scales', [1, 1, 2, 2]);
    await resize({ mode: 'linear', coordinate_transformation_mode: 'align_corners' }, 'sizes', [1, 2, 5, 3]);
    await resize({ mode: 'linear', coordinate_transformation_mode: 'pytorch_half_pixel' }, 'sizes', [1, 2, 4, 6]);
  });
  it('cubic is refused, naming the node', async () => {
    await expect(resize({ mode: 'cubic' }, 'scales', [1, 1, 2, 2])).rejects.toThrow(/Resize node ".*" uses mode "cubic"/);
  });
});
