import type { GradientContext } from '../context.js';
import type { Value } from '../../ir/value.js';
import { registerGradient } from '../registry.js';

/** Ops that only rearrange elements without reordering them: the gradient is dY reshaped back. */
function reshapeBack(ctx: GradientContext) {
  return [ctx.emit.reshape(ctx.outputGradient()!, ctx.shape(ctx.input(0)))];
}

registerGradient(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze'], { differentiable: [0], build: reshapeBack });
// Expand: dY summed back over the broadcast axes (the engine's central un-broadcast).
registerGradient('Expand', { differentiable: [0], build: (ctx) => [{ value: ctx.outputGradient()!, shape: ctx.shape(ctx.output()) }] });

registerGradient('Transpose', {
  build(ctx) {
    const rank = ctx.shape(ctx.input(0)).length;
    const perm = ctx.attr<number[]>('perm', [...Array(rank).keys()].reverse());
    const inverse = new Array<number>(rank);
    perm.forEach((p, i) => { inverse[p] = i; });
    return [ctx.emit.transpose(ctx.outputGradient()!, inverse)];
  },
});

// Concat: each input's gradient is its slab of dY — one Split.
registerGradient('Concat', {
  build(ctx) {
    const ys = ctx.shape(ctx.output());
    const axis = (ctx.attr('axis', 0) + ys.length) % ys.length;
    const sizes = ctx.node.inputs.map((v) => ctx.shape(v!)[axis]!);
    const parts = ctx.emit.ops('Split', [ctx.outputGradient()!, ctx.emit.int64(sizes)], { axis }, sizes.length);
    return parts.map((p, i) => ctx.emit.setShape(p, ys.map((d, k) => (k === axis ? sizes[i]! : d))));
  },
});

// Split: dX = the outputs' gradients concatenated back (zeros for outputs nobody differentiates).
registerGradient('Split', {
  differentiable: [0],
  build(ctx) {
    const xs = ctx.shape(ctx.input(0));
    const axis = (ctx.attr('axis', 0) + xs.length) % xs.length;
    const parts = ctx.node.outputs.map((_, i) => ctx.outputGradientOrZero(i));
    return [ctx.op('Concat', parts, { axis }, xs)];
  },
});

/** Constant int64 input i as numbers (null when absent); a computed one is refused, naming the node. */
function constInts(ctx: GradientContext, i: number, what: string): number[] | null {
  if (!ctx.hasInput(i)) return null;
  const c = ctx.input(i).constant();
  if (!c) throw new Error(`autodiff: ${ctx.node.opType} node "${ctx.node.name}" has computed ${what}; only constant ${what} are supported`);
  return c.toNumbers();
}

// Slice: dY padded back with zeros for unit steps; other steps scatter into the flat input.
registerGradient('Slice', {
  differentiable: [0],
  build(ctx) {
    const xs = ctx.shape(ctx.input(0));
    const r = xs.length;
    const starts = constInts(ctx, 1, 'starts')!;
    const ends = constInts(ctx, 2, 'ends')!;
    const axes = (constInts(ctx, 3, 'axes') ?? starts.map((_, i) => i)).map((a) => (a < 0 ? a + r : a));
    const steps = constInts(ctx, 4, 'steps') ?? starts.map(() => 1);
    const lo = [...Array(r)].map(() => 0);
    const step = [...Array(r)].map(() => 1);
    axes.forEach((a, k) => {
      const d = xs[a]!;
      const s = steps[k]!;
      const clampTo = (v: number, min: number, max: number) => Math.min(max, Math.max(min, v < 0 ? v + d : v));
      lo[a] = s > 0 ? clampTo(starts[k]!, 0, d) : clampTo(starts[k]!, -1, d - 1);
      step[a] = s;
    });
    const ys = ctx.shape(ctx.output());
    const dy = ctx.outputGradient()!;
    if (step.every((s) => s === 1)) {
      const pads = [...lo, ...xs.map((d, a) => d - lo[a]! - ys[a]!)];
      return [ctx.op('Pad', [dy, ctx.emit.int64(pads)], {}, xs)];
    }
    const flat = sliceIndices(xs, ys, lo, step);
    const zeros = ctx.op('Expand', [ctx.emit.scalar(0), ctx.emit.int64([flat.length === 0 ? 0 : xs.reduce((a, b) => a * b, 1)])]);
    const scattered = ctx.op('ScatterElements', [zeros, ctx.emit.int64(flat), ctx.emit.reshape(dy, [flat.length])], { axis: 0 });
    return [ctx.emit.reshape(scattered, xs)];
  },
});

/** Flat positions in X of every element of a strided slice, in Y's order. */
function sliceIndices(xs: readonly number[], ys: readonly number[], lo: readonly number[], step: readonly number[]): number[] {
  let out = [0];
  xs.forEach((d, a) => {
    const next: number[] = [];
    for (const base of out) for (let j = 0; j < ys[a]!; j++) next.push(base * d + lo[a]! + j * step[a]!);
    out = next;
  });
  return out;
}

/**
 * Gather(data, indices, axis): dData[…, i, …] = Σ_j [idx_j = i] dY[…, j, …] — one MatMul of
 * the one-hot matrix (a constant when the indices are) by dY viewed as [P, J, Q]; repeated
 * indices add up, and no Transpose is needed.
 */
registerGradient('Gather', {
  differentiable: [0],
  build(ctx) {
    const e = ctx.emit;
    const xs = ctx.shape(ctx.input(0));
    const axis = (ctx.attr('axis', 0) + xs.length) % xs.length;
    const d = xs[axis]!;
    const p = xs.slice(0, axis).reduce((a, b) => a * b, 1);
    const q = xs.slice(axis + 1).reduce((a, b) => a * b, 1);
    const idxConst = ctx.input(1).constant();
    let onehotT: Value;
    let j: number;
    if (idxConst) {
      const idx = idxConst.toNumbers().map((i) => (i < 0 ? i + d : i));
      j = idx.length;
      const m = new Array<number>(d * j).fill(0);
      idx.forEach((i, k) => { m[i * j + k] = 1; });
      onehotT = e.floats(m, [d, j]);
    } else {
      const ids = ctx.input(1);
      j = ctx.shape(ids).reduce((a, b) => a * b, 1);
      const flat = e.reshape(ids, [1, j]);
      const classes = e.int64([...Array(d).keys()], [d, 1]);
      const wrapped = ctx.op('Where', [ctx.op('Less', [flat, e.int64([0], [])]), ctx.op('Add', [flat, e.int64([d], [])]), flat]);
      onehotT = ctx.op('Cast', [ctx.op('Equal', [classes, wrapped])], { to: e.floatType }, [d, j]);
    }
    const dy = e.reshape(ctx.outputGradient()!, [p, j, q]);
    return [e.reshape(ctx.op('MatMul', [onehotT, dy], {}, [p, d, q]), xs)];
  },
});
