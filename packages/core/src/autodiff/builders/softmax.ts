import type { GradientContext } from '../context.js';
import type { Value } from '../../ir/value.js';
import { registerGradient } from '../registry.js';
import { product } from './window.js';

/** Σ over one axis, kept (for the softmax Jacobian-vector products). */
function sumAxis(ctx: GradientContext, v: Value, shape: readonly number[], axis: number): Value {
  return ctx.emit.reduceSum(v, shape, [axis], true);
}

// Y = softmax(X): dX = Y·(dY − Σ dY·Y).
registerGradient('Softmax', {
  build(ctx) {
    const y = ctx.output();
    const s = ctx.shape(y);
    const axis = ctx.attr('axis', -1);
    const dyy = ctx.op('Mul', [ctx.outputGradient()!, y], {}, s);
    return [ctx.op('Sub', [dyy, ctx.op('Mul', [y, sumAxis(ctx, dyy, s, axis)], {}, s)], {}, s)];
  },
});

// Y = log softmax(X): dX = dY − exp(Y)·Σ dY.
registerGradient('LogSoftmax', {
  build(ctx) {
    const y = ctx.output();
    const s = ctx.shape(y);
    return [logSoftmaxBackward(ctx, ctx.outputGradient()!, ctx.op('Exp', [y], {}, s), s, ctx.attr('axis', -1))];
  },
});

function logSoftmaxBackward(ctx: GradientContext, dy: Value, p: Value, s: readonly number[], axis: number): Value {
  return ctx.op('Sub', [dy, ctx.op('Mul', [p, sumAxis(ctx, dy, s, axis)], {}, s)], {}, s);
}

/**
 * SoftmaxCrossEntropyLoss(scores [N,C,…], labels [N,…], weights? [C]): d loss / d scores =
 * (softmax − onehot(label)) · w(label) · dL / (Σw for "mean"), w = 0 at ignore_index.
 * The optional log_prob output's gradient is the LogSoftmax one.
 */
registerGradient('SoftmaxCrossEntropyLoss', {
  differentiable: [0],
  build(ctx) {
    const e = ctx.emit;
    const scores = ctx.input(0);
    const s = ctx.shape(scores);
    const rest = [s[0]!, ...s.slice(2)];
    const logp = ctx.node.outputs[1] ?? ctx.op('LogSoftmax', [scores], { axis: 1 }, s);
    const p = ctx.op('Exp', [logp], {}, s);
    const parts: Value[] = [];
    const dl = ctx.outputGradient(0);
    if (dl) {
      const labels = ctx.input(1);
      const reduction: string = ctx.attr('reduction', 'mean');
      const ignore = ctx.node.node.attributes.has('ignore_index') ? ctx.attr('ignore_index', 0) : null;
      let w: Value | null = null; // per-sample weight [N, …]
      let safe = labels;
      if (ignore !== null) {
        const keep = ctx.op('Not', [ctx.op('Equal', [labels, e.int64([ignore], [])])]);
        safe = ctx.op('Where', [keep, labels, e.int64([0], [])]);
        w = ctx.op('Cast', [keep], { to: e.floatType }, rest);
      }
      if (ctx.hasInput(2)) {
        const picked = ctx.op('Gather', [ctx.input(2), safe], { axis: 0 }, rest);
        w = w ? ctx.op('Mul', [w, picked], {}, rest) : picked;
      }
      // onehot(label) as label == class (OneHot has no double kernel in onnxruntime).
      const classes = e.int64([...Array(s[1]!).keys()], [1, s[1]!, ...s.slice(2).map(() => 1)]);
      const hit = ctx.op('Equal', [ctx.op('Unsqueeze', [safe, e.int64([1])]), classes]);
      const onehot = ctx.op('Cast', [hit], { to: e.floatType }, s);
      const diff = ctx.op('Sub', [p, onehot], {}, s);
      let factor: Value = reduction === 'none' ? e.reshape(dl, rest) : dl;
      if (reduction === 'mean') factor = ctx.op('Div', [dl, w ? e.reduceSum(w, rest, rest.map((_, i) => i), false) : e.scalar(product(rest))], {}, []);
      if (w) factor = ctx.op('Mul', [w, factor], {}, rest);
      const perSample = e.shapeOf(factor).length === 0 ? factor : e.reshape(factor, [s[0]!, 1, ...s.slice(2)]);
      parts.push(ctx.op('Mul', [diff, perSample], {}, s));
    }
    const dlp = ctx.outputGradient(1);
    if (dlp) parts.push(logSoftmaxBackward(ctx, dlp, p, s, 1));
    return [parts.length === 1 ? parts[0]! : ctx.op('Add', parts, {}, s)];
  },
});
