import { broadcastShape, type GradientContext } from '../context.js';
import type { Value } from '../../ir/value.js';
import { registerGradient } from '../registry.js';

/** A gradient of the output's (broadcast) shape; the engine sums it back to each input's shape. */
function full(ctx: GradientContext, v: Value) {
  return { value: v, shape: ctx.shape(ctx.output()) };
}

function outShape(ctx: GradientContext): readonly number[] {
  return broadcastShape(ctx.shape(ctx.input(0)), ctx.shape(ctx.input(1)));
}

registerGradient('Add', { build: (ctx) => [full(ctx, ctx.outputGradient()!), full(ctx, ctx.outputGradient()!)] });

registerGradient('Sub', {
  build(ctx) {
    const dy = ctx.outputGradient()!;
    return [full(ctx, dy), ctx.needsGradient(1) ? full(ctx, ctx.op('Neg', [dy], {}, ctx.shape(ctx.output()))) : null];
  },
});

registerGradient('Mul', {
  build(ctx) {
    const dy = ctx.outputGradient()!;
    const s = outShape(ctx);
    return [
      ctx.needsGradient(0) ? full(ctx, ctx.op('Mul', [dy, ctx.input(1)], {}, s)) : null,
      ctx.needsGradient(1) ? full(ctx, ctx.op('Mul', [dy, ctx.input(0)], {}, s)) : null,
    ];
  },
});

// Y = A / B: dA = dY / B, dB = −dY·Y / B.
registerGradient('Div', {
  build(ctx) {
    const dy = ctx.outputGradient()!;
    const b = ctx.input(1);
    const s = outShape(ctx);
    const da = ctx.needsGradient(0) ? ctx.op('Div', [dy, b], {}, s) : null;
    const db = ctx.needsGradient(1) ? ctx.op('Neg', [ctx.op('Div', [ctx.op('Mul', [dy, ctx.output()], {}, s), b], {}, s)], {}, s) : null;
    return [da && full(ctx, da), db && full(ctx, db)];
  },
});

// Z = X^E: dX = dY·E·X^(E−1), dE = dY·Z·ln X. A constant exponent 2 or 0.5 (variance, norms) skips the Pow.
registerGradient('Pow', {
  build(ctx) {
    const dy = ctx.outputGradient()!;
    const [x, p] = [ctx.input(0), ctx.input(1)];
    const s = outShape(ctx);
    const c = p.constant();
    const k = c && c.size === 1 ? Number(c.data()[0]) : null;
    let dx: Value | null = null;
    if (ctx.needsGradient(0)) {
      if (k === 2) dx = ctx.op('Mul', [dy, ctx.op('Mul', [x, ctx.emit.scalar(2)], {}, ctx.shape(x))], {}, s);
      else if (k === 0.5) dx = ctx.op('Div', [ctx.op('Mul', [dy, ctx.emit.scalar(0.5)], {}, s), ctx.output()], {}, s);
      else {
        const pm1 = ctx.op('Sub', [p, ctx.emit.scalar(1)], {}, ctx.shape(p));
        dx = ctx.op('Mul', [ctx.op('Mul', [dy, p], {}, s), ctx.op('Pow', [x, pm1], {}, ctx.shape(x))], {}, s);
      }
    }
    const dp = ctx.needsGradient(1) ? ctx.op('Mul', [ctx.op('Mul', [dy, ctx.output()], {}, s), ctx.op('Log', [x], {}, ctx.shape(x))], {}, s) : null;
    return [dx && full(ctx, dx), dp && full(ctx, dp)];
  },
});

// Where(cond, A, B): the gradient goes to the branch each element came from.
registerGradient('Where', {
  differentiable: [1, 2],
  build(ctx) {
    const dy = ctx.outputGradient()!;
    const s = ctx.shape(ctx.output());
    const taken = ctx.emit.masked(dy, ctx.input(0), s);
    return [
      null,
      ctx.needsGradient(1) ? full(ctx, taken) : null,
      ctx.needsGradient(2) ? full(ctx, ctx.op('Sub', [dy, taken], {}, s)) : null,
    ];
  },
});

// Sum of n inputs: each gets dY (broadcast back centrally).
registerGradient('Sum', { build: (ctx) => ctx.node.inputs.map(() => full(ctx, ctx.outputGradient()!)) });
