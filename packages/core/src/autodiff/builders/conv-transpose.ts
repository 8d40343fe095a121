import { registerGradient } from '../registry.js';
import { convOperands, convWeightGradient } from './conv.js';
import type { Window } from './window.js';

// ConvTranspose is the adjoint of a Conv with the same weight and window: dX = Conv(dY, W),
// and dW is that Conv's weight gradient with the roles of X and dY swapped.
registerGradient('ConvTranspose', {
  build(ctx) {
    const { x, w, dy, xs, ws, ys } = convOperands(ctx);
    const win = transposeWindow(ctx.attr<number[]>('kernel_shape', ws.slice(2)), xs.slice(2), ys.slice(2), {
      strides: ctx.attr<number[] | null>('strides', null), dilations: ctx.attr<number[] | null>('dilations', null),
      pads: ctx.attr<number[] | null>('pads', null), outputPadding: ctx.attr<number[] | null>('output_padding', null),
      autoPad: ctx.attr('auto_pad', 'NOTSET'), explicitShape: ctx.node.node.attributes.has('output_shape'),
    });
    const group = ctx.attr('group', 1);
    const attrs = { kernel_shape: win.kernel, strides: win.strides, dilations: win.dilations, pads: win.pads };
    const dx = ctx.needsGradient(0) ? ctx.op('Conv', [dy, w], { ...attrs, group }, xs) : null;
    const dw = ctx.needsGradient(1) ? convWeightGradient(ctx, dy, x, ys, xs, ws, win, group) : null;
    const db = ctx.needsGradient(2) ? ctx.emit.reduceSum(dy, ys, [0, ...ys.slice(2).map((_, i) => i + 2)], false) : null;
    return [dx, dw, db];
  },
});

/**
 * The window of a ConvTranspose as the Conv that is its adjoint sees it. With
 * output_shape or SAME auto_pad the pads follow from the static shapes (ONNX's rule:
 * SAME_UPPER puts the smaller half first, otherwise the larger).
 */
function transposeWindow(kernel: number[], xs: readonly number[], ys: readonly number[], a: {
  strides: number[] | null; dilations: number[] | null; pads: number[] | null; outputPadding: number[] | null; autoPad: string; explicitShape: boolean;
}): Window {
  const r = xs.length;
  const strides = a.strides ?? new Array<number>(r).fill(1);
  const dilations = a.dilations ?? new Array<number>(r).fill(1);
  let pads = a.pads ?? new Array<number>(2 * r).fill(0);
  if (a.explicitShape || a.autoPad === 'SAME_UPPER' || a.autoPad === 'SAME_LOWER') {
    const op = a.outputPadding ?? new Array<number>(r).fill(0);
    pads = new Array<number>(2 * r).fill(0);
    for (let i = 0; i < r; i++) {
      const total = Math.max(0, strides[i]! * (xs[i]! - 1) + op[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - ys[i]!);
      const half = Math.floor(total / 2);
      pads[i] = a.autoPad === 'SAME_UPPER' ? half : total - half;
      pads[i + r] = total - pads[i]!;
    }
  } else if (a.autoPad === 'VALID') pads = new Array<number>(2 * r).fill(0);
  return { kernel, strides, dilations, pads };
}
