import type { GradientContext } from '../context.js';
import { registerGradient } from '../registry.js';

/**
 * Resize (and opset 9's Upsample), nearest and linear: both interpolate each resized axis
 * on its own, Y = A_h · X · A_wᵀ per image and channel, with A an [out, in] matrix fixed
 * by the static shapes and the attributes (one 1 per row for nearest, two weights for
 * linear). So dX = A_hᵀ · dY · A_w: one MatMul per resized axis by a constant matrix,
 * each input receiving the sum of what every output it fed received. Only the last two
 * axes may be resized (images: NCHW); cubic, antialiasing and tf_crop_and_resize have no
 * builder. The matrices follow onnxruntime's CPU kernel (coordinates in float, linear
 * clamped to the edges).
 */
registerGradient(['Resize', 'Upsample'], {
  differentiable: [0],
  build(ctx) {
    const xs = ctx.shape(ctx.input(0));
    const ys = ctx.shape(ctx.output());
    const r = xs.length;
    const mode = ctx.attr('mode', 'nearest');
    const refuse = (why: string) => new Error(`autodiff: ${ctx.node.opType} node "${ctx.node.name}" ${why}; only nearest and linear resizing of the last two axes have a gradient builder`);
    if (mode !== 'nearest' && mode !== 'linear') throw refuse(`uses mode "${mode}"`);
    if (ctx.attr('antialias', 0) !== 0) throw refuse('antialiases');
    const scales = scalesOf(ctx, xs, ys);
    const coordinate = ctx.node.opType === 'Upsample' ? 'asymmetric' : ctx.attr('coordinate_transformation_mode', 'half_pixel');
    const nearest = ctx.attr('nearest_mode', ctx.node.opType === 'Upsample' ? 'floor' : 'round_prefer_floor');
    let dy = ctx.outputGradient()!;
    let shape = [...ys];
    for (let axis = r - 1; axis >= 0; axis--) {
      if (xs[axis] === ys[axis] && scales[axis] === 1) continue;
      if (axis < r - 2) throw refuse(`resizes axis ${axis}`);
      const a = interpolation(xs[axis]!, ys[axis]!, scales[axis]!, mode, coordinate, nearest, refuse);
      shape = shape.map((d, i) => (i === axis ? xs[axis]! : d));
      // The last axis: dY · A ([out, in]); the one before: Aᵀ ([in, out]) · dY.
      dy = axis === r - 1
        ? ctx.op('MatMul', [dy, ctx.emit.floats(a, [ys[axis]!, xs[axis]!])], {}, shape)
        : ctx.op('MatMul', [ctx.emit.floats(transposed(a, ys[axis]!, xs[axis]!), [xs[axis]!, ys[axis]!]), dy], {}, shape);
    }
    return [dy];
  },
});

/** Each axis's scale: the scales input where given (with `axes`, for those), else output / input length. */
function scalesOf(ctx: GradientContext, xs: readonly number[], ys: readonly number[]): number[] {
  const r = xs.length;
  const scaleInput = ctx.node.opType === 'Upsample' ? 1 : 2;
  const given = ctx.hasInput(scaleInput) ? ctx.input(scaleInput).constant()?.toNumbers() ?? null : null;
  const axes = (ctx.attr('axes', [] as number[]) as number[]).map((a) => (a < 0 ? a + r : a));
  const scales = xs.map((d, i) => ys[i]! / d);
  if (given && given.length) (axes.length ? axes : xs.map((_, i) => i)).forEach((axis, k) => (scales[axis] = given[k]!));
  return scales;
}

/** The [out, in] matrix of one axis, row-major: output j = Σ_i A[j][i] · input i. */
function interpolation(inLen: number, outLen: number, scale: number, mode: string, coordinate: string, nearest: string, refuse: (why: string) => Error): Float64Array {
  const a = new Float64Array(outLen * inLen);
  const f = Math.fround;
  for (let j = 0; j < outLen; j++) {
    let x: number;
    switch (coordinate) {
      case 'half_pixel': x = f(f(j + 0.5) / f(scale)) - 0.5; break;
      case 'pytorch_half_pixel': x = outLen > 1 ? f(f(j + 0.5) / f(scale)) - 0.5 : 0; break;
      case 'align_corners': x = outLen === 1 ? 0 : f((j * (inLen - 1)) / (outLen - 1)); break;
      case 'asymmetric': x = f(j / f(scale)); break;
      default: throw refuse(`uses coordinate_transformation_mode "${coordinate}"`);
    }
    if (mode === 'nearest') {
      const i = Math.min(inLen - 1, Math.max(0, roundNearest(f(x), nearest, refuse)));
      a[j * inLen + i] = 1;
      continue;
    }
    const c = Math.min(inLen - 1, Math.max(0, f(x)));
    const i1 = Math.min(Math.floor(c), inLen - 1);
    const i2 = Math.min(i1 + 1, inLen - 1);
    // onnxruntime weighs i1 by |c − i2| and i2 by |c − i1|, halves where they coincide.
    const [w1, w2] = i1 === i2 ? [0.5, 0.5] : [Math.abs(c - i2), Math.abs(c - i1)];
    a[j * inLen + i1] += w1;
    a[j * inLen + i2] += w2;
  }
  return a;
}

function roundNearest(x: number, mode: string, refuse: (why: string) => Error): number {
  switch (mode) {
    case 'round_prefer_floor': return x === Math.floor(x) + 0.5 ? Math.floor(x) : Math.round(x);
    case 'round_prefer_ceil': return Math.round(x);
    case 'floor': return Math.floor(x);
    case 'ceil': return Math.ceil(x);
    default: throw refuse(`uses nearest_mode "${mode}"`);
  }
}

function transposed(a: Float64Array, rows: number, cols: number): Float64Array {
  const t = new Float64Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j]!;
  return t;
}
