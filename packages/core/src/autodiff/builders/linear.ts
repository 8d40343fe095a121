import { broadcastShape, type GradientContext } from '../context.js';
import type { Value } from '../../ir/value.js';
import { registerGradient } from '../registry.js';
import { product } from './window.js';

// Y = α·A'·B' + β·C with A' = transA ? Aᵀ : A (same for B). Gemm's own transpose flags
// express every product below, so no Transpose node is needed.
registerGradient('Gemm', {
  build(ctx) {
    const [a, b] = [ctx.input(0), ctx.input(1)];
    const dy = ctx.outputGradient()!;
    const alpha = ctx.attr('alpha', 1);
    const beta = ctx.attr('beta', 1);
    const ta = ctx.attr('transA', 0);
    const tb = ctx.attr('transB', 0);
    const gemm = (x: Value, y: Value, transA: number, transB: number, shape: readonly number[]) =>
      ctx.op('Gemm', [x, y], { alpha: { float: alpha }, transA, transB }, shape) as Value;
    const as = ctx.shape(a);
    const bs = ctx.shape(b);
    // dA' = α·dY·B'ᵀ ; dB' = α·A'ᵀ·dY
    const da = !ctx.needsGradient(0) ? null : ta ? gemm(b, dy, tb, 1, as) : gemm(dy, b, 0, tb ? 0 : 1, as);
    const db = !ctx.needsGradient(1) ? null : tb ? gemm(dy, a, 1, ta, bs) : gemm(a, dy, ta ? 0 : 1, 0, bs);
    let dc: Value | { value: Value; shape: readonly number[] } | null = null;
    if (ctx.needsGradient(2)) {
      const ys = ctx.shape(ctx.output());
      dc = { value: beta === 1 ? dy : ctx.op('Mul', [dy, ctx.emit.scalar(beta)], {}, ys), shape: ys };
    }
    return [da, db, dc];
  },
});

// Y = A·B with numpy batch broadcasting; 1-D operands are promoted to matrices.
registerGradient('MatMul', {
  build(ctx) {
    const e = ctx.emit;
    const [a, b] = [ctx.input(0), ctx.input(1)];
    const as0 = ctx.shape(a);
    const bs0 = ctx.shape(b);
    const as = as0.length === 1 ? [1, as0[0]!] : as0;
    const bs = bs0.length === 1 ? [bs0[0]!, 1] : bs0;
    const [mm, kk, nn] = [as.at(-2)!, as.at(-1)!, bs.at(-1)!];
    const batch = broadcastShape(as.slice(0, -2), bs.slice(0, -2));
    const dy = e.reshape(ctx.outputGradient()!, [...batch, mm, nn]);
    const a2 = e.reshape(a, as);
    const b2 = e.reshape(b, bs);
    let da: Value | { value: Value; shape: readonly number[] } | null = null;
    let db: Value | { value: Value; shape: readonly number[] } | null = null;
    if (bs.length === 2 && batch.length > 0) {
      // A batched activation by a weight matrix (Linear layers, attention projections):
      // fold the batch into rows and let Gemm's transpose flags do the rest.
      const rows = product(batch) * mm;
      const dy2 = e.reshape(dy, [rows, nn]);
      if (ctx.needsGradient(0)) da = { value: e.reshape(ctx.op('Gemm', [dy2, b2], { transB: 1 }, [rows, kk]), [...batch, mm, kk]), shape: [...batch, mm, kk] };
      if (ctx.needsGradient(1)) db = ctx.op('Gemm', [e.reshape(a2, [rows, kk]), dy2], { transA: 1 }, [kk, nn]);
    } else if (as.length === 2 && bs.length === 2) {
      if (ctx.needsGradient(0)) da = ctx.op('Gemm', [dy, b2], { transB: 1 }, [mm, kk]);
      if (ctx.needsGradient(1)) db = ctx.op('Gemm', [a2, dy], { transA: 1 }, [kk, nn]);
    } else {
      const swap = (v: Value) => { const r = e.shapeOf(v).length; return e.transpose(v, [...Array(r - 2).keys(), r - 1, r - 2]); };
      if (ctx.needsGradient(0)) da = { value: ctx.op('MatMul', [dy, swap(b2)], {}, [...batch, mm, kk]), shape: [...batch, mm, kk] };
      if (ctx.needsGradient(1)) db = { value: ctx.op('MatMul', [swap(a2), dy], {}, [...batch, kk, nn]), shape: [...batch, kk, nn] };
    }
    return [da && promoted(ctx, da, as0), db && promoted(ctx, db, bs0)];
  },
});

/** A gradient computed for a promoted (1-D → 2-D) operand, summed and reshaped back. */
function promoted(ctx: GradientContext, g: Value | { value: Value; shape: readonly number[] }, original: readonly number[]) {
  if (original.length !== 1) return g;
  const value = 'value' in g ? g.value : g;
  const shape = 'value' in g ? g.shape : ctx.shape(value);
  return ctx.emit.reshape(ctx.emit.reduceSum(value, shape, shape.map((_, i) => i).slice(0, -2), false), original);
}
