import type { GradientContext } from '../context.js';
import { registerGradient } from '../registry.js';
import { product } from './window.js';

/** The reduced axes of a Reduce* node: the `axes` input (opset ≥ 13/18) or attribute; none = all. */
export function reducedAxes(ctx: GradientContext, rank: number): number[] {
  const input = ctx.hasInput(1) ? ctx.input(1).constant() : null;
  if (ctx.hasInput(1) && !input) throw new Error(`autodiff: ${ctx.node.opType} node "${ctx.node.name}" has computed axes; only constant axes are supported`);
  const axes = input ? input.toNumbers() : ctx.attr<number[]>('axes', []);
  if (axes.length === 0) return ctx.attr('noop_with_empty_axes', 0) ? [] : [...Array(rank).keys()];
  return axes.map((a) => (a < 0 ? a + rank : a));
}

// dX = dY broadcast back over the reduced axes (÷ their size for the mean).
registerGradient(['ReduceSum', 'ReduceMean'], {
  differentiable: [0],
  build(ctx) {
    const xs = ctx.shape(ctx.input(0));
    const axes = reducedAxes(ctx, xs.length);
    const kept = xs.map((d, i) => (axes.includes(i) ? 1 : d));
    let dy = ctx.emit.reshape(ctx.outputGradient()!, kept);
    if (ctx.node.opType === 'ReduceMean') dy = ctx.op('Mul', [dy, ctx.emit.scalar(1 / product(axes.map((a) => xs[a]!)))], {}, kept);
    return [ctx.op('Expand', [dy, ctx.emit.int64(xs)], {}, xs)];
  },
});

registerGradient('GlobalAveragePool', {
  build(ctx) {
    const xs = ctx.shape(ctx.input(0));
    const ys = ctx.shape(ctx.output());
    const dy = ctx.op('Mul', [ctx.outputGradient()!, ctx.emit.scalar(1 / product(xs.slice(2)))], {}, ys);
    return [ctx.op('Expand', [dy, ctx.emit.int64(xs)], {}, xs)];
  },
});
