import type { GradientContext } from '../context.js';
import type { Value } from '../../ir/value.js';
import { registerGradient } from '../registry.js';
import { outputPadding, product, windowAttrs, windowOf, type Window } from './window.js';

// Conv: Y[n,m] = Σ_c W[m,c] ⋆ X[n,c] (+ B[m]), in groups.
registerGradient('Conv', {
  build(ctx) {
    const { x, w, dy, xs, ws, ys } = convOperands(ctx);
    const win = windowOf(ctx, xs.slice(2), ws.slice(2));
    const group = ctx.attr('group', 1);
    const dx = ctx.needsGradient(0) ? convInputGradient(ctx, dy, w, xs, ys, ws, win, group) : null;
    const dw = ctx.needsGradient(1) ? convWeightGradient(ctx, x, dy, xs, ys, ws, win, group) : null;
    const db = ctx.needsGradient(2) ? ctx.emit.reduceSum(dy, ys, [0, ...ys.slice(2).map((_, i) => i + 2)], false) : null;
    return [dx, dw, db];
  },
});

/** X, W, dY and their static shapes (Conv and ConvTranspose). */
export function convOperands(ctx: GradientContext) {
  const x = ctx.input(0);
  const w = ctx.input(1);
  return { x, w, dy: ctx.outputGradient()!, xs: ctx.shape(x), ws: ctx.shape(w), ys: ctx.shape(ctx.output()) };
}

/**
 * dX: the adjoint of a conv is the transposed conv with the same weight and window. For a
 * stride-1 conv that is also a plain Conv of dY by the kernel flipped in space with its
 * in/out channels swapped (per group), padded by d·(k−1) − p: onnxruntime's Conv kernel
 * is much faster than its ConvTranspose, and flipping the weight is cheap.
 */
function convInputGradient(
  ctx: GradientContext, dy: Value, w: Value,
  xs: readonly number[], ys: readonly number[], ws: readonly number[], win: Window, group: number,
): Value {
  const e = ctx.emit;
  const r = win.kernel.length;
  const pads = win.pads.map((p, i) => win.dilations[i % r]! * (win.kernel[i % r]! - 1) - p);
  if (win.strides.some((s) => s !== 1) || pads.some((p) => p < 0)) {
    return ctx.op('ConvTranspose', [dy, w], { ...windowAttrs(win), group, output_padding: outputPadding(win, ys.slice(2), xs.slice(2)) }, xs);
  }
  const [m, cg] = [ws[0]!, ws[1]!];
  const mg = m / group;
  const k = ws.slice(2);
  let wt = w;
  if (cg !== 1 || mg !== 1) {
    const grouped = e.transpose(e.reshape(w, [group, mg, cg, ...k]), [0, 2, 1, ...k.map((_, i) => i + 3)]);
    wt = e.reshape(grouped, [group * cg, mg, ...k]);
  }
  if (k.some((d) => d > 1)) {
    const axes = k.map((_, i) => i + 2);
    wt = ctx.op('Slice', [wt, e.int64(k.map(() => -1)), e.int64(k.map((d) => -d - 1)), e.int64(axes), e.int64(k.map(() => -1))], {}, e.shapeOf(wt));
  }
  return ctx.op('Conv', [dy, wt], { kernel_shape: win.kernel, strides: win.strides, dilations: win.dilations, pads, group }, xs);
}

/**
 * dW[m,c,k] = Σ_{n,l} dY[n,m,l] · P[n,c,k,l], where P is X's im2col (each patch
 * position k of each channel c over the output positions l). P comes from one depthwise
 * Conv with one-hot kernels and the sum from one batched MatMul of P by dYᵀ (only dY,
 * smaller than P, and the weight-sized result are transposed). Measured against it and
 * rejected: transposing P to fold the batch into one Gemm's contraction (≈2× slower), and
 * per-kernel-position strided Slices of X each contracted by one Gemm (no faster).
 * Shared with ConvTranspose, whose weight gradient is a Conv's with X and dY swapped.
 */
export function convWeightGradient(
  ctx: GradientContext, x: Value, dy: Value,
  xs: readonly number[], ys: readonly number[], ws: readonly number[], win: Window, group: number,
): Value {
  const e = ctx.emit;
  const [n, c] = [xs[0]!, xs[1]!];
  const m = ws[0]!;
  const k = product(win.kernel);
  const l = product(ys.slice(2));
  const cg = c / group;
  const mg = m / group;
  if (cg === 1 && mg === 1) return depthwiseWeightGradient(ctx, x, dy, xs, ys, ws, win);
  const unfolded = k > 1 || win.strides.some((s) => s !== 1) || win.pads.some((p) => p !== 0);
  if (group === 1 && unfolded && n * c * k * l <= SHIFTS_MAX_PATCH_VALUES) return denseWeightGradientByShifts(ctx, x, dy, xs, ys, ws, win);
  const p = im2col(ctx, x, xs, ys, win, k);
  const dyT = e.transpose(e.reshape(dy, [n, group, mg, l]), [0, 1, 3, 2]);
  const prod = ctx.op('MatMul', [e.reshape(p, [n, group, cg * k, l]), dyT], {}, [n, group, cg * k, mg]);
  const summed = e.reduceSum(prod, [n, group, cg * k, mg], [0], false);
  return e.reshape(e.transpose(summed, [0, 2, 1]), ws);
}

/**
 * Up to this many patch values (N·C·K·L: 32 MB of float32), a dense dW is one GEMM per
 * kernel position on shifted slices of X (below); past it both ways are bound by memory
 * and im2col was as fast or faster (64 ch 56², batch 8: 26 vs 30 ms).
 */
const SHIFTS_MAX_PATCH_VALUES = 1 << 23;

/**
 * Dense dW[:, :, k] = dYᵀ · X moved by k, for each kernel position k: X once to NHWC
 * (padded), one strided Slice per position giving [N, L, C] rows, and per position either
 * one batched MatMul of dY [N, M, L] by them summed over the batch (while the per-sample
 * [M, C] products are no larger than their operands), or one GEMM of dY as [M, N·L] whose
 * contraction runs over the whole batch. Against im2col + the batched MatMul, one layer at
 * batch 32, one thread, quiet machine, medians of 11 (`node scripts/bench/dense-dw.mjs`):
 * 64 ch 14² 10.1 → 5.4 ms, 128 ch 7² 10.2 → 5.7 ms, 256 ch 7² 34.6 → 21.5 ms, 64 → 128 ch
 * 14² stride 2 4.3 → 2.9 ms; 64 ch 28²: even. Per sample against whole batch (nhwc-shift-b
 * vs nhwc-shift), 1 / 2 threads: 32 ch 28² 6.9 / 4.4 vs 7.0 / 6.5 ms, 64 ch 14² 5.7 / 3.6
 * vs 6.4 / 4.8 ms, 128 ch 7² 6.1 / 3.4 vs 5.3 / 4.1 ms: onnxruntime spreads a batched
 * MatMul over its threads, while MLAS splits one [M, C] result poorly.
 */
function denseWeightGradientByShifts(
  ctx: GradientContext, x: Value, dy: Value,
  xs: readonly number[], ys: readonly number[], ws: readonly number[], win: Window,
): Value {
  const e = ctx.emit;
  const [n, c, m] = [xs[0]!, xs[1]!, ws[0]!];
  const out = ys.slice(2);
  const r = out.length;
  const l = product(out);
  const k = product(win.kernel);
  const spatialAxes = out.map((_, i) => i + 1); // of NHWC
  let rows = e.transpose(x, [0, ...out.map((_, i) => i + 2), 1]);
  if (win.pads.some((p) => p !== 0)) {
    const padded = [n, ...xs.slice(2).map((d, i) => d + win.pads[i]! + win.pads[i + r]!), c];
    rows = ctx.op('Pad', [rows, e.int64([0, ...win.pads.slice(0, r), 0, 0, ...win.pads.slice(r), 0])], {}, padded);
  }
  const perSample = m * c <= l * (m + c);
  const dyRows = perSample ? e.reshape(dy, [n, m, l]) : e.reshape(e.transpose(dy, [1, 0, ...out.map((_, i) => i + 2)]), [m, n * l]);
  const parts: Value[] = [];
  for (let pos = 0; pos < k; pos++) {
    const starts = kernelOffset(pos, win);
    const ends = starts.map((s, i) => s + (out[i]! - 1) * win.strides[i]! + 1);
    const moved = ctx.op('Slice', [rows, e.int64(starts), e.int64(ends), e.int64(spatialAxes), e.int64(win.strides)], {}, [n, ...out, c]);
    const gemm = perSample
      ? e.reduceSum(ctx.op('MatMul', [dyRows, e.reshape(moved, [n, l, c])], {}, [n, m, c]), [n, m, c], [0], false)
      : ctx.op('MatMul', [dyRows, e.reshape(moved, [n * l, c])], {}, [m, c]);
    parts.push(e.reshape(gemm, [m, c, 1]));
  }
  const all = k === 1 ? parts[0]! : ctx.op('Concat', parts, { axis: 2 }, [m, c, k]);
  return e.reshape(all, ws);
}

/** Kernel position `pos` (row-major over the kernel's dims) as offsets into the padded input, dilation applied. */
function kernelOffset(pos: number, win: Window): number[] {
  const r = win.kernel.length;
  const starts = new Array<number>(r);
  for (let i = r - 1, rest = pos; i >= 0; i--) {
    starts[i] = (rest % win.kernel[i]!) * win.dilations[i]!;
    rest = Math.floor(rest / win.kernel[i]!);
  }
  return starts;
}

/**
 * Depthwise dW[c, k] = Σ_{n,l} dY[n,c,l] · X[n,c,l moved by k]: no contraction over
 * channels, so no GEMM fits. Stride 1: per kernel position, a Slice of the padded X times
 * dY, summed over space (one pass over X each); strided: im2col, then one dot product per
 * (n, c, k) as a MatMul of [K, L] by [L, 1] (onnxruntime's strided Slice is slow). Against
 * the former im2col, Mul and sum, one layer at batch 32, 1 thread (medians of 15): 96 ch
 * 14² 10.7 → 3.8 ms, 192 ch 7² 6.2 → 3.2 ms, stride 2: 96 ch 14² 2.4 → 2.0 ms, 64 ch 28²
 * 6.7 → 4.9 ms.
 */
function depthwiseWeightGradient(
  ctx: GradientContext, x: Value, dy: Value,
  xs: readonly number[], ys: readonly number[], ws: readonly number[], win: Window,
): Value {
  const e = ctx.emit;
  const [n, c] = [xs[0]!, xs[1]!];
  const out = ys.slice(2);
  const r = out.length;
  const k = product(win.kernel);
  if (ctx.blockedConvs !== null && r === 2 && (n * c) % ctx.blockedConvs === 0) return depthwiseWeightGradientByConv(ctx, x, dy, xs, ys, ws, win);
  if (win.strides.some((s) => s !== 1)) {
    const l = product(out);
    const p = e.reshape(im2col(ctx, x, xs, ys, win, k), [n, c, k, l]);
    const dots = ctx.op('MatMul', [p, e.reshape(dy, [n, c, l, 1])], {}, [n, c, k, 1]);
    return e.reshape(e.reduceSum(dots, [n, c, k, 1], [0], false), ws);
  }
  let padded = x;
  let ps = xs;
  if (win.pads.some((p) => p !== 0)) {
    ps = xs.map((d, i) => (i < 2 ? d : d + win.pads[i - 2]! + win.pads[i - 2 + r]!));
    padded = ctx.op('Pad', [x, e.int64([0, 0, ...win.pads.slice(0, r), 0, 0, ...win.pads.slice(r)])], {}, ps);
  }
  const axes = out.map((_, i) => i + 2);
  const sums: Value[] = [];
  for (let pos = 0; pos < k; pos++) {
    const starts = kernelOffset(pos, win);
    const moved = ctx.op('Slice', [padded, e.int64(starts), e.int64(starts.map((s, i) => s + out[i]!)), e.int64(axes)], {}, ys);
    const prod = ctx.op('Mul', [moved, dy], {}, ys);
    sums.push(e.reshape(e.reduceSum(prod, ys, axes, false), [n, c, 1]));
  }
  const all = k === 1 ? sums[0]! : ctx.op('Concat', sums, { axis: 2 }, [n, c, k]);
  return e.reshape(e.reduceSum(all, [n, c, k], [0], false), ws);
}

/**
 * Depthwise dW as one grouped Conv with the batch folded into the channels: X as one image
 * of N·C channels, dY as N·C kernels of the output's size, the forward stride as the
 * dilation and the forward dilation as the stride, giving each (n, c) its kernel-sized
 * dW, then summed over the batch. Used only when the Convs run on onnxruntime's blocked
 * (NCHWc) kernels (GradientOptions.blockedConvs, N·C a multiple of the block), whose
 * depthwise kernel vectorises over the channels: one layer at batch 32, one thread, block
 * 16, medians of 15 (`node scripts/bench/depthwise-dw.mjs`), against the formulations
 * below: 96 ch 14² 3.9 → 0.66 ms, 192 ch 7² 3.2 → 0.27 ms, 64 ch 28² stride 2 6.2 → 0.75
 * ms. On the plain grouped Conv kernel it is slower than those, hence the hint.
 */
function depthwiseWeightGradientByConv(
  ctx: GradientContext, x: Value, dy: Value,
  xs: readonly number[], ys: readonly number[], ws: readonly number[], win: Window,
): Value {
  const e = ctx.emit;
  const [n, c] = [xs[0]!, xs[1]!];
  const out = ys.slice(2);
  const r = out.length;
  // Correlating the padded X with dY spread by the stride: at least kernel-many outputs per axis, cut to that.
  const full = out.map((o, i) => Math.floor((xs[i + 2]! + win.pads[i]! + win.pads[i + r]! - ((o - 1) * win.strides[i]! + 1)) / win.dilations[i]!) + 1);
  const image = e.reshape(x, [1, n * c, ...xs.slice(2)]);
  const kernels = e.reshape(dy, [n * c, 1, ...out]);
  let perSample = ctx.op('Conv', [image, kernels], { group: n * c, kernel_shape: out, pads: win.pads, strides: win.dilations, dilations: win.strides }, [1, n * c, ...full]);
  if (full.some((f, i) => f !== win.kernel[i])) {
    const axes = out.map((_, i) => i + 2);
    perSample = ctx.op('Slice', [perSample, e.int64(axes.map(() => 0)), e.int64(win.kernel), e.int64(axes)], {}, [1, n * c, ...win.kernel]);
  }
  const k = product(win.kernel);
  return e.reshape(e.reduceSum(e.reshape(perSample, [n, c * k]), [n, c * k], [0], false), ws);
}

/** X's patches [N, C·K, out…] in (channel, kernel position) order; X itself for a 1×1 stride-1 unpadded window. */
function im2col(ctx: GradientContext, x: Value, xs: readonly number[], ys: readonly number[], win: Window, k: number): Value {
  const c = xs[1]!;
  if (k === 1 && win.strides.every((s) => s === 1) && win.pads.every((p) => p === 0)) return x;
  const onehot = new Array<number>(c * k * k).fill(0);
  for (let ch = 0; ch < c; ch++) for (let j = 0; j < k; j++) onehot[(ch * k + j) * k + j] = 1;
  const kernel = ctx.emit.floats(onehot, [c * k, 1, ...win.kernel]);
  return ctx.op('Conv', [x, kernel], { ...windowAttrs(win), group: c }, [xs[0]!, c * k, ...ys.slice(2)]);
}

