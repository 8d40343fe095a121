import type { GradientContext } from '../context.js';
import type { Value } from '../../ir/value.js';
import { registerGradient } from '../registry.js';

/** dY where `mask`, else `otherwise` (default 0). */
function where(ctx: GradientContext, mask: Value, otherwise?: Value): Value {
  const s = ctx.shape(ctx.output());
  return otherwise ? ctx.op('Where', [mask, ctx.outputGradient()!, otherwise], {}, s) : ctx.emit.masked(ctx.outputGradient()!, mask, s);
}

const cmp = (ctx: GradientContext, op: string, a: Value, b: Value) => ctx.op(op, [a, b]);

registerGradient('Relu', { build: (ctx) => [where(ctx, cmp(ctx, 'Greater', ctx.output(), ctx.emit.scalar(0)))] });

// Clip passes the gradient where it did not clip (bounds inclusive, as torch): exactly where Y = X.
registerGradient('Clip', { differentiable: [0], build: (ctx) => [where(ctx, cmp(ctx, 'Equal', ctx.input(0), ctx.output()))] });

registerGradient('LeakyRelu', {
  build(ctx) {
    const s = ctx.shape(ctx.output());
    const slope = ctx.op('Mul', [ctx.outputGradient()!, ctx.emit.scalar(ctx.attr('alpha', 0.01))], {}, s);
    return [where(ctx, cmp(ctx, 'Greater', ctx.input(0), ctx.emit.scalar(0)), slope)];
  },
});

// Y = max(0, min(1, αX + β)): slope α strictly inside (0, 1).
registerGradient('HardSigmoid', {
  build(ctx) {
    const y = ctx.output();
    const inside = ctx.op('And', [cmp(ctx, 'Greater', y, ctx.emit.scalar(0)), cmp(ctx, 'Less', y, ctx.emit.scalar(1))]);
    const slope = ctx.op('Mul', [ctx.outputGradient()!, ctx.emit.scalar(ctx.attr('alpha', 0.2))], {}, ctx.shape(y));
    return [ctx.op('Where', [inside, slope, ctx.emit.scalar(0)], {}, ctx.shape(y))];
  },
});

// Y = X·hardsigmoid(X) (α = 1/6, β = ½): slope 0 below −3, 1 above 3, X/3 + ½ between (torch's convention at ±3).
registerGradient('HardSwish', {
  build(ctx) {
    const x = ctx.input(0);
    const s = ctx.shape(x);
    const e = ctx.emit;
    const mid = ctx.op('Add', [ctx.op('Mul', [x, e.scalar(1 / 3)], {}, s), e.scalar(0.5)], {}, s);
    const upper = ctx.op('Where', [cmp(ctx, 'Greater', x, e.scalar(3)), e.scalar(1), mid], {}, s);
    const slope = ctx.op('Where', [cmp(ctx, 'Less', x, e.scalar(-3)), e.scalar(0), upper], {}, s);
    return [ctx.op('Mul', [ctx.outputGradient()!, slope], {}, s)];
  },
});

// Gelu (opset 20, exact form): d/dx x·Φ(x) = Φ(x) + x·φ(x).
registerGradient('Gelu', {
  build(ctx) {
    if (ctx.attr('approximate', 'none') !== 'none') throw new Error(`autodiff: Gelu node "${ctx.node.name}" uses approximate="${ctx.attr('approximate', '')}"; only the exact (erf) form has a gradient builder`);
    const x = ctx.input(0);
    const s = ctx.shape(x);
    const e = ctx.emit;
    const mul = (a: Value, b: Value) => ctx.op('Mul', [a, b], {}, s);
    const cdf = mul(ctx.op('Add', [ctx.op('Erf', [mul(x, e.scalar(Math.SQRT1_2))], {}, s), e.scalar(1)], {}, s), e.scalar(0.5));
    const pdf = mul(ctx.op('Exp', [mul(mul(x, x), e.scalar(-0.5))], {}, s), e.scalar(1 / Math.sqrt(2 * Math.PI)));
    return [mul(ctx.outputGradient()!, ctx.op('Add', [cdf, mul(x, pdf)], {}, s))];
  },
});
