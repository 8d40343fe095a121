import type { GradientContext } from '../context.js';
import type { Value } from '../../ir/value.js';
import { DataType } from '../../ir/dtype.js';
import { registerGradient } from '../registry.js';
import { FAKE_QUANTIZE } from '../gradient-nodes.js';

/** [qmin, qmax] of a QuantizeLinear's output type (its zero point's type; uint8 without one). */
function integerRange(ctx: GradientContext): [number, number] {
  const type = ctx.hasInput(2) ? ctx.input(2).elemType : ctx.attr('output_dtype', DataType.UINT8);
  switch (type ?? DataType.UINT8) {
    case DataType.INT8: return [-128, 127];
    case DataType.UINT8: return [0, 255];
    case DataType.INT16: return [-32768, 32767];
    case DataType.UINT16: return [0, 65535];
    case 22: return [-8, 7]; // INT4
    case 21: return [0, 15]; // UINT4
    default: throw new Error(`autodiff: fake-quant "${ctx.node.name}" quantizes to data type ${type}; only integer types have a gradient builder`);
  }
}

/**
 * A QuantizeLinear → DequantizeLinear pair, Y = s·(clamp(round(X/s) + z, qmin, qmax) − z):
 * dX by the straight-through estimator (dY where round(X/s) + z lies in [qmin, qmax]),
 * and, when the scale is trainable, LSQ's scale gradient
 * dY/ds = round(X/s) − X/s inside, clamp(…) − z outside, summed per tensor or per axis.
 */
registerGradient(FAKE_QUANTIZE, {
  differentiable: [0, 1],
  build(ctx) {
    const e = ctx.emit;
    const x = ctx.input(0);
    const xs = ctx.shape(x);
    const scale = ctx.input(1);
    const ss = ctx.shape(scale);
    if (ctx.attr('block_size', 0) > 0) throw new Error(`autodiff: fake-quant "${ctx.node.name}" is blocked (block_size); only per-tensor and per-axis have a gradient builder`);
    const perAxis = ss.length === 1 && ss[0]! > 1;
    const axis = (ctx.attr('axis', 1) + xs.length) % xs.length;
    const along = (v: Value) => (perAxis ? e.reshape(v, xs.map((d, i) => (i === axis ? d : 1))) : v);
    const [qmin, qmax] = integerRange(ctx);
    const zc = ctx.hasInput(2) ? ctx.input(2).constant() : null;
    const zero = !ctx.hasInput(2) || (zc !== null && zc.toNumbers().every((z) => z === 0));
    const z = zero ? null : along(ctx.op('Cast', [ctx.input(2)], { to: e.floatType }, ss));
    const v = ctx.op('Div', [x, along(scale)], {}, xs);
    const r = ctx.op('Round', [v], {}, xs);
    const t = z ? ctx.op('Add', [r, z], {}, xs) : r;
    const c = ctx.op('Clip', [t, e.scalar(qmin), e.scalar(qmax)], {}, xs);
    const inside = ctx.op('Equal', [c, t]);
    const dy = ctx.outputGradient()!;
    const dx = ctx.needsGradient(0) ? e.masked(dy, inside, xs) : null;
    let ds: Value | null = null;
    if (ctx.needsGradient(1)) {
      const outside = z ? ctx.op('Sub', [c, z], {}, xs) : c;
      const slope = ctx.op('Where', [inside, ctx.op('Sub', [r, v], {}, xs), outside], {}, xs);
      const prod = ctx.op('Mul', [dy, slope], {}, xs);
      const axes = xs.map((_, i) => i).filter((i) => !perAxis || i !== axis);
      ds = e.reshape(e.reduceSum(prod, xs, axes, false), ss);
    }
    return [dx, ds];
  },
});
