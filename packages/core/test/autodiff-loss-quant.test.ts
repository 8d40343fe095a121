import { describe, expect, it } from 'vitest';
import { DataType, Tensor } from '../src/index.js';
import { gradCheck, node } from './helpers/gradcheck.js';

// Gradients masked to zero may be −0 (a negative dY times 0): `d + 0` makes them +0 for toEqual.

/** ONNX Round / QuantizeLinear rounding: half to even. */
const roundEven = (v: number) => {
  const f = Math.floor(v);
  const d = v - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
};

/** The STE and LSQ gradients by their definition, element by element. */
function expectedFakeQuant(x: ArrayLike<number>, dy: ArrayLike<number>, scaleOf: (i: number) => number, zpOf: (i: number) => number, qmin: number, qmax: number) {
  const dx = new Float64Array(x.length);
  const ds = new Map<number, number>();
  for (let i = 0; i < x.length; i++) {
    const s = scaleOf(i);
    const z = zpOf(i);
    const v = x[i]! / s;
    const t = roundEven(v) + z;
    const inside = t >= qmin && t <= qmax;
    dx[i] = inside ? dy[i]! : 0;
    const slope = inside ? roundEven(v) - v : Math.min(qmax, Math.max(qmin, t)) - z;
    ds.set(s, (ds.get(s) ?? 0) + dy[i]! * slope);
  }
  return { dx, ds };
}

describe('autodiff: QuantizeLinear → DequantizeLinear (fake quant)', () => {
  it('STE per tensor, int8: gradient passes exactly inside [qmin, qmax] (clipping edges, ties to even), LSQ scale gradient', async () => {
    // scale 0.25 makes x/s exact: 31.75 → 127 (in), 31.875 → 127.5 → 128 (out), −32.125 → −128.5 → −128 (in), −32.2 → −129 (out).
    const x = [0, 0.3, -0.6, 31.75, 31.8, 31.875, 32.5, -32, -32.125, -32.2, -40, 5.125];
    const r = await gradCheck({
      analyticOnly: true, precision: 'float32',
      inputs: { x: { shape: [12], data: x }, s: { shape: [], data: [0.25] } },
      build: (g, v) => {
        const zp = g.addInitializer('zp', Tensor.fromArray(new Int8Array([0]), [], DataType.INT8));
        return node(g, 'DequantizeLinear', [node(g, 'QuantizeLinear', [v.x!, v.s!, zp]), v.s!, zp]);
      },
    });
    const want = expectedFakeQuant(x, r.outputGradient, () => 0.25, () => 0, -128, 127);
    expect([...r.analytic.x!].map((d, i) => (d === 0 ? 0 : d / r.outputGradient[i]!))).toEqual([1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1]);
    expect(Array.from(r.analytic.x!, (d) => d + 0)).toEqual(Array.from(want.dx, (d) => Math.fround(d)));
    expect(r.analytic.s![0]).toBeCloseTo(want.ds.get(0.25)!, 4);
  });

  it('per axis (weights, axis 0) with uint8 zero points: STE and per-channel LSQ gradient', async () => {
    const scales = [0.25, 0.5, 0.125];
    const zps = [128, 120, 3];
    const n = 3 * 8;
    const x = Array.from({ length: n }, (_, i) => ((i * 37) % 23) * 2.5 - 27);
    const r = await gradCheck({
      analyticOnly: true, precision: 'float32',
      inputs: { x: { shape: [3, 2, 2, 2], data: x }, s: { shape: [3], data: scales } },
      build: (g, v) => {
        const zp = g.addInitializer('zp', Tensor.fromArray(Uint8Array.from(zps), [3], DataType.UINT8));
        return node(g, 'DequantizeLinear', [node(g, 'QuantizeLinear', [v.x!, v.s!, zp], { axis: 0 }), v.s!, zp], { axis: 0 });
      },
    });
    const ch = (i: number) => Math.floor(i / 8);
    const want = expectedFakeQuant(x, r.outputGradient, (i) => scales[ch(i)]!, (i) => zps[ch(i)]!, 0, 255);
    expect(want.dx.some((d) => d === 0) && want.dx.some((d) => d !== 0)).toBe(true); // both regimes exercised
    expect(Array.from(r.analytic.x!, (d) => d + 0)).toEqual(Array.from(want.dx, (d) => Math.fround(d)));
    scales.forEach((s, c) => expect(r.analytic.s![c]).toBeCloseTo(want.ds.get(s)!, 3));
  });

  it('a scale in stopGradient gets no gradient while x still does', async () => {
    const { buildGradientGraph, Graph } = await import('../src/index.js');
    const g = new Graph();
    const x = g.getOrCreateValue('x');
    const s = g.getOrCreateValue('s');
    g.inputs.push(x, s);
    const y = node(g, 'DequantizeLinear', [node(g, 'QuantizeLinear', [x, s]), s]);
    const loss = node(g, 'ReduceSum', [y], { keepdims: 0 });
    const shapes = new Map<string, number[]>([['x', [4]], ['s', []], [y.name, [4]], [loss.name, []]]);
    const { gradients } = buildGradientGraph(g, { loss: loss.name, wrt: ['x', 's'], shapes, stopGradient: new Set(['s']) });
    expect(gradients.get('x')).toBe('x_grad');
    // s is stopped: its gradient is a zero tensor (an Expand of 0), not an LSQ reduction.
    const sg = g.value('s_grad')!.producer!;
    expect((sg.opType === 'Identity' ? sg.input(0)!.producer! : sg).opType).toBe('Expand');
    expect(g.nodes.some((n) => n.opType === 'ReduceSum' && n.name.includes('_Grad/'))).toBe(false);
  });
});

describe('autodiff: Clip → QuantizeLinear → DequantizeLinear (ClippedFakeQuantize)', () => {
  // x/s on the grid of 0.25 (exact): the clip [−7, 7]·s decides the mask, as QAT's 4-bit stubs do in an int8 container.
  const x = [0, 0.3, -0.6, 1.75, 1.8, 1.875, 2.5, -1.75, -1.8, -3, 0.125, 0.375];
  const s0 = 0.25;
  const units = (g: import('../src/index.js').Graph, name: string, v: number) => g.addInitializer(name, Tensor.fromArray(new Float32Array([v]), []));
  const int8Zero = (g: import('../src/index.js').Graph) => g.addInitializer('zp', Tensor.fromArray(new Int8Array([0]), [], DataType.INT8));
  const backwardOps = (g: import('../src/index.js').Graph) => new Set(g.nodes.filter((n) => n.name.includes('_Grad/')).map((n) => n.opType));

  it('learned scale (bounds = s × constants): STE mask from the clip and LSQ scale gradient, as one node', async () => {
    const r = await gradCheck({
      analyticOnly: true, precision: 'float32',
      inputs: { x: { shape: [12], data: x }, s: { shape: [], data: [s0] } },
      build: (g, v) => {
        const zp = int8Zero(g);
        const clipped = node(g, 'Clip', [v.x!, node(g, 'Mul', [v.s!, units(g, 'lo', -7)]), node(g, 'Mul', [v.s!, units(g, 'hi', 7)])]);
        return node(g, 'DequantizeLinear', [node(g, 'QuantizeLinear', [clipped, v.s!, zp]), v.s!, zp]);
      },
    });
    let ds = 0;
    const dx = x.map((xi, i) => {
      const v = xi / s0;
      const inside = v >= -7 && v <= 7;
      ds += r.outputGradient[i]! * (inside ? roundEven(v) - v : Math.min(7, Math.max(-7, v)));
      return inside ? r.outputGradient[i]! : 0;
    });
    expect(dx.some((d) => d === 0) && dx.some((d) => d !== 0)).toBe(true); // both regimes exercised
    expect(Array.from(r.analytic.x!, (d) => d + 0)).toEqual(dx.map((d) => Math.fround(d)));
    expect(r.analytic.s![0]).toBeCloseTo(ds, 4);
    // Differentiated as one node: no Round or Clip in the backward pass.
    const ops = backwardOps(r.graph);
    expect(ops.has('Round') || ops.has('Clip')).toBe(false);
    expect(ops.has('Equal')).toBe(true);
  });

  it('the same gradients as Div → Clip → Q/DQ at scale 1 → Mul differentiated op by op', async () => {
    const data = Array.from({ length: 64 }, (_, i) => Math.sin(i * 1.7) * 3);
    const spec = (fused: boolean) => ({
      analyticOnly: true, precision: 'float32' as const, seed: 3,
      inputs: { x: { shape: [4, 16], data }, s: { shape: [], data: [0.3] } },
      build: (g: import('../src/index.js').Graph, v: Record<string, import('../src/index.js').Value>) => {
        const zp = int8Zero(g);
        if (fused) {
          const clipped = node(g, 'Clip', [v.x!, node(g, 'Mul', [v.s!, units(g, 'lo', 0)]), node(g, 'Mul', [v.s!, units(g, 'hi', 15)])]);
          return node(g, 'DequantizeLinear', [node(g, 'QuantizeLinear', [clipped, v.s!, zp]), v.s!, zp]);
        }
        const one = units(g, 'one', 1);
        const c = node(g, 'Clip', [node(g, 'Div', [v.x!, v.s!]), units(g, 'lo', 0), units(g, 'hi', 15)]);
        return node(g, 'Mul', [node(g, 'DequantizeLinear', [node(g, 'QuantizeLinear', [c, one, zp]), one, zp]), v.s!]);
      },
    });
    const [a, b] = [await gradCheck(spec(true)), await gradCheck(spec(false))];
    for (let i = 0; i < data.length; i++) expect(a.analytic.x![i]! + 0).toBeCloseTo(b.analytic.x![i]! + 0, 6);
    expect(a.analytic.s![0]).toBeCloseTo(b.analytic.s![0]!, 4);
    expect(backwardOps(a.graph).has('Round')).toBe(false);
  });

  it('constant scale and bounds: the mask of the clip; a clip reaching past the integer range is left to the STE of the pair', async () => {
    const run = (hi: number) => gradCheck({
      analyticOnly: true, precision: 'float32',
      inputs: { x: { shape: [12], data: x.map((v) => v * 40) } },
      build: (g, v) => {
        const zp = int8Zero(g);
        const s = units(g, 's', s0);
        const clipped = node(g, 'Clip', [v.x!, units(g, 'lo', -7 * s0), units(g, 'hi', hi * s0)]);
        return node(g, 'DequantizeLinear', [node(g, 'QuantizeLinear', [clipped, s, zp]), s, zp]);
      },
    });
    const inside = await run(7);
    expect(Array.from(inside.analytic.x!, (d, i) => (d === 0 ? 0 : d / inside.outputGradient[i]!))).toEqual(x.map((v) => (v * 40 / s0 >= -7 && v * 40 / s0 <= 7 ? 1 : 0)));
    expect(backwardOps(inside.graph).has('Round')).toBe(false);
    // Upper bound 200 > 127: the quantizer saturates first, so the chain is not fused and both masks apply.
    const past = await run(200);
    expect(backwardOps(past.graph).has('Round')).toBe(true);
    expect(Array.from(past.analytic.x!, (d, i) => (d === 0 ? 0 : d / past.outputGradient[i]!))).toEqual(x.map((v) => (v * 40 / s0 >= -7 && roundEven(v * 40 / s0) <= 127 ? 1 : 0)));
  });
});

describe('autodiff: losses (float64)', () => {
  const labels = [2, 0, 4, 1];
  for (const reduction of ['mean', 'sum', 'none']) {
    it(`SoftmaxCrossEntropyLoss reduction=${reduction}, with class weights`, async () => {
      const r = await gradCheck({
        inputs: { x: { shape: [4, 5] }, y: { shape: [4], data: labels, int64: true }, w: { shape: [5], data: [1, 2, 0.5, 1.5, 3], constant: true } },
        build: (g, v) => node(g, 'SoftmaxCrossEntropyLoss', [v.x!, v.y!, v.w!], { reduction }),
      });
      expect(r.maxRelError).toBeLessThan(1e-6);
    });
  }
  it('SoftmaxCrossEntropyLoss mean without weights, ignore_index, with the log_prob output also used', async () => {
    const r = await gradCheck({
      inputs: { x: { shape: [4, 5] }, y: { shape: [4], data: [2, -100, 4, 1], int64: true } },
      build: (g, v) => {
        const sce = g.addNode({ opType: 'SoftmaxCrossEntropyLoss', inputs: [v.x!, v.y!], attrs: { ignore_index: -100 }, outputs: 2, name: 'sce' });
        return node(g, 'Add', [sce.outputs[0]!, sce.outputs[1]!]);
      },
    });
    expect(r.maxRelError).toBeLessThan(1e-6);
  });
  it('SoftmaxCrossEntropyLoss over extra dims [N, C, D]', async () => {
    const r = await gradCheck({
      inputs: { x: { shape: [2, 3, 2] }, y: { shape: [2, 2], data: [0, 2, 1, 1], int64: true } },
      build: (g, v) => node(g, 'SoftmaxCrossEntropyLoss', [v.x!, v.y!]),
    });
    expect(r.maxRelError).toBeLessThan(1e-6);
  });
});
