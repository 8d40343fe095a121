import { registerGradient } from '../registry.js';
import { DataType } from '../../ir/dtype.js';

/**
 * Ops whose outputs carry no gradient: integer/boolean results, shape computations, and
 * piecewise-constant functions (zero derivative almost everywhere). Forward reachability
 * stops at them, as at onnxruntime's stop edges.
 */
registerGradient(
  ['Shape', 'Size', 'ArgMax', 'ArgMin', 'Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'Not', 'And', 'Or', 'Xor',
    'NonZero', 'Sign', 'Floor', 'Ceil', 'Round', 'IsNaN', 'IsInf', 'OneHot', 'ConstantOfShape', 'Range', 'EyeLike', 'QuantizeLinear',
    'RandomNormalLike', 'RandomUniformLike', 'Bernoulli', 'Multinomial'],
  { differentiable: [], build: () => [] },
);

const FLOATS: ReadonlySet<number> = new Set([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);

// Cast between float types passes the gradient (cast back); to an integer type it stops it.
registerGradient('Cast', {
  differentiable: (n) => (FLOATS.has(n.node.attr('to', 0)) ? [0] : []),
  build: (ctx) => [ctx.op('Cast', [ctx.outputGradient()!], { to: ctx.emit.floatType }, ctx.shape(ctx.output()))],
});

// Dropout in inference mode (no training_mode input, or a constant false) is the identity.
registerGradient('Dropout', {
  differentiable: [0],
  build(ctx) {
    const mode = ctx.hasInput(2) ? ctx.input(2).constant() : null;
    if (ctx.hasInput(2) && (!mode || mode.toNumbers()[0] !== 0)) {
      throw new Error(`autodiff: Dropout node "${ctx.node.name}" may run in training mode; only inference-mode Dropout (the identity) has a gradient builder`);
    }
    return [ctx.outputGradient()!];
  },
});
