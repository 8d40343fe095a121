import { DataType } from '../../ir/dtype.js';
import type { GradientContext } from '../context.js';
import type { Value } from '../../ir/value.js';
import { registerGradient } from '../registry.js';
import { product } from './window.js';

/**
 * Normalisation over `axes` (kept dims), as LayerNormalization and training-mode
 * BatchNormalization compute it: x̂ = (x − μ)·r, r = 1/√(σ² + ε), y = x̂·γ + β. With
 * g = dY·γ: dX = r·(g − mean(g) − x̂·mean(g·x̂)); dγ = Σ dY·x̂; dβ = Σ dY (the engine sums
 * the last two back to γ's and β's shapes).
 */
function normalizeBackward(ctx: GradientContext, gamma: Value | null, axes: number[], eps: number, stats: { mean: Value; invStd: Value } | null = null) {
  const e = ctx.emit;
  const x = ctx.input(0);
  const xs = ctx.shape(x);
  const kept = xs.map((d, i) => (axes.includes(i) ? 1 : d));
  const inv = e.scalar(1 / product(axes.map((a) => xs[a]!)));
  const mean = (v: Value) => ctx.op('Mul', [e.reduceSum(v, xs, axes, true), inv], {}, kept);
  const mul = (a: Value, b: Value) => ctx.op('Mul', [a, b], {}, xs);
  // The forward's own statistics where it gives them (two passes fewer than recomputing μ and σ²).
  const xc = ctx.op('Sub', [x, stats ? stats.mean : mean(x)], {}, xs);
  const r = stats ? stats.invStd : ctx.op('Reciprocal', [ctx.op('Sqrt', [ctx.op('Add', [mean(mul(xc, xc)), e.scalar(eps)], {}, kept)], {}, kept)], {}, kept);
  const xhat = mul(xc, r);
  const dy = ctx.outputGradient()!;
  let dx: Value | null = null;
  if (ctx.needsGradient(0)) {
    const g = gamma ? mul(dy, gamma) : dy;
    const inner = ctx.op('Sub', [ctx.op('Sub', [g, mean(g)], {}, xs), mul(xhat, mean(mul(g, xhat)))], {}, xs);
    dx = mul(inner, r);
  }
  const dgamma = ctx.needsGradient(1) ? { value: mul(dy, xhat), shape: xs } : null;
  const dbeta = ctx.needsGradient(2) ? { value: dy, shape: xs } : null;
  return { dx, dgamma, dbeta };
}

function refuseStatGradients(ctx: GradientContext, what: string) {
  if (ctx.node.outputs.slice(1).some((_, i) => ctx.outputGradient(i + 1))) {
    throw new Error(`autodiff: ${ctx.node.opType} node "${ctx.node.name}": a gradient flows into its ${what} outputs, which have no gradient builder`);
  }
}

// LayerNormalization(X, Scale, B; axis): normalised over axes [axis, rank).
registerGradient('LayerNormalization', {
  build(ctx) {
    refuseStatGradients(ctx, 'Mean/InvStdDev');
    const rank = ctx.shape(ctx.input(0)).length;
    const axis = (ctx.attr('axis', -1) + rank) % rank;
    const axes = [...Array(rank).keys()].filter((a) => a >= axis);
    const { dx, dgamma, dbeta } = normalizeBackward(ctx, ctx.input(1), axes, ctx.attr('epsilon', 1e-5), layerNormStats(ctx, axes));
    return [dx, dgamma, ctx.hasInput(2) ? dbeta : null];
  },
});

/**
 * The forward LayerNormalization's Mean and InvStdDev outputs (added to the node when it
 * has none, as MaxPool gets its Indices), for float32 inputs computed in float32
 * (stash_type 1): in other types the statistics would come in another precision.
 */
function layerNormStats(ctx: GradientContext, axes: number[]): { mean: Value; invStd: Value } | null {
  const node = ctx.node.node;
  if (ctx.emit.floatType !== DataType.FLOAT || ctx.attr('stash_type', 1) !== 1) return null;
  const kept = ctx.shape(ctx.input(0)).map((d, i) => (axes.includes(i) ? 1 : d));
  const [y, mean, invStd] = [node.outputs[0]!, node.outputs[1], node.outputs[2]];
  const stats = { mean: mean ?? ctx.emit.graph.addValue(`${ctx.node.name}_mean`), invStd: invStd ?? ctx.emit.graph.addValue(`${ctx.node.name}_inv_std_dev`) };
  if (!mean || !invStd) node.setOutputs([y, stats.mean, stats.invStd]);
  ctx.emit.setShape(stats.mean, kept);
  ctx.emit.setShape(stats.invStd, kept);
  return stats;
}

/**
 * BatchNormalization: in training mode (training_mode=1) the batch statistics over
 * (N, spatial) normalise, so dX has the full normalisation Jacobian; in inference mode the
 * running statistics are constants: dX = dY·γ/√(var + ε). Running mean/var are stop edges.
 */
registerGradient('BatchNormalization', {
  differentiable: [0, 1, 2],
  build(ctx) {
    refuseStatGradients(ctx, 'running mean/var');
    const e = ctx.emit;
    const xs = ctx.shape(ctx.input(0));
    const channel = (v: Value) => e.reshape(v, xs.map((d, i) => (i === 1 ? d : 1)));
    const eps = ctx.attr('epsilon', 1e-5);
    const axes = [0, ...xs.slice(2).map((_, i) => i + 2)];
    if (ctx.attr('training_mode', 0) === 1) {
      const { dx, dgamma, dbeta } = normalizeBackward(ctx, channel(ctx.input(1)), axes, eps);
      return [dx, dgamma && reduceToChannel(ctx, dgamma.value, xs), dbeta && reduceToChannel(ctx, dbeta.value, xs)];
    }
    const c = [xs[1]!];
    const r = ctx.op('Reciprocal', [ctx.op('Sqrt', [ctx.op('Add', [ctx.input(4), e.scalar(eps)], {}, c)], {}, c)], {}, c);
    const dy = ctx.outputGradient()!;
    const dx = ctx.needsGradient(0) ? ctx.op('Mul', [dy, channel(ctx.op('Mul', [ctx.input(1), r], {}, c))], {}, xs) : null;
    let dgamma: Value | null = null;
    if (ctx.needsGradient(1)) {
      const xhat = ctx.op('Mul', [ctx.op('Sub', [ctx.input(0), channel(ctx.input(3))], {}, xs), channel(r)], {}, xs);
      dgamma = reduceToChannel(ctx, ctx.op('Mul', [dy, xhat], {}, xs), xs);
    }
    return [dx, dgamma, ctx.needsGradient(2) ? reduceToChannel(ctx, dy, xs) : null];
  },
});

function reduceToChannel(ctx: GradientContext, v: Value, xs: readonly number[]): Value {
  return ctx.emit.reduceSum(v, xs, xs.map((_, i) => i).filter((i) => i !== 1), false);
}
