import type { GradientContext } from '../context.js';
import type { Value } from '../../ir/value.js';
import { registerGradient } from '../registry.js';

/** dX = dY · f'(X, Y) for an element-wise op, f' built from ONNX ops by `derivative`. */
function elementwise(opTypes: string | string[], derivative: (ctx: GradientContext, x: Value, y: Value) => Value) {
  registerGradient(opTypes, {
    differentiable: [0],
    build(ctx) {
      const s = ctx.shape(ctx.output());
      return [ctx.op('Mul', [ctx.outputGradient()!, derivative(ctx, ctx.input(0), ctx.output())], {}, s)];
    },
  });
}

const mul = (ctx: GradientContext, a: Value, b: Value) => ctx.op('Mul', [a, b], {}, ctx.shape(ctx.output()));
const sub = (ctx: GradientContext, a: Value, b: Value) => ctx.op('Sub', [a, b], {}, ctx.shape(ctx.output()));

registerGradient(['Identity', 'Neg'], {
  build: (ctx) => [ctx.node.opType === 'Neg' ? ctx.op('Neg', [ctx.outputGradient()!], {}, ctx.shape(ctx.output())) : ctx.outputGradient()!],
});
elementwise('Exp', (_ctx, _x, y) => y);
registerGradient('Log', { build: (ctx) => [ctx.op('Div', [ctx.outputGradient()!, ctx.input(0)], {}, ctx.shape(ctx.output()))] });
registerGradient('Sqrt', {
  // dX = dY / (2·√X)
  build: (ctx) => [ctx.op('Div', [mul(ctx, ctx.outputGradient()!, ctx.emit.scalar(0.5)), ctx.output()], {}, ctx.shape(ctx.output()))],
});
registerGradient('Reciprocal', {
  build: (ctx) => [ctx.op('Neg', [mul(ctx, ctx.outputGradient()!, mul(ctx, ctx.output(), ctx.output()))], {}, ctx.shape(ctx.output()))],
});
elementwise('Tanh', (ctx, _x, y) => sub(ctx, ctx.emit.scalar(1), mul(ctx, y, y)));
elementwise('Sigmoid', (ctx, _x, y) => mul(ctx, y, sub(ctx, ctx.emit.scalar(1), y)));
// erf'(x) = 2/√π · exp(−x²)
elementwise('Erf', (ctx, x) => mul(ctx, ctx.emit.scalar(2 / Math.sqrt(Math.PI)), ctx.op('Exp', [ctx.op('Neg', [mul(ctx, x, x)], {}, ctx.shape(x))], {}, ctx.shape(x))));
elementwise('Abs', (ctx, x) => ctx.op('Sign', [x], {}, ctx.shape(x)));
