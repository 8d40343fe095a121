import type { GradientContext } from '../context.js';

/** A sliding window (Conv, ConvTranspose, pooling) with auto_pad resolved from static shapes. */
export interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** ONNX order: all begins, then all ends. */
  pads: number[];
}

/** The window of a Conv/pool node over input spatial dims `spatial` (kernel from the attribute or `kernel`). */
export function windowOf(ctx: GradientContext, spatial: readonly number[], kernel?: readonly number[]): Window {
  const r = spatial.length;
  const k = ctx.attr<number[]>('kernel_shape', kernel ? [...kernel] : []);
  const strides = ctx.attr<number[]>('strides', new Array<number>(r).fill(1));
  const dilations = ctx.attr<number[]>('dilations', new Array<number>(r).fill(1));
  let pads = ctx.attr<number[]>('pads', new Array<number>(2 * r).fill(0));
  const auto = ctx.attr<string>('auto_pad', 'NOTSET');
  if (auto === 'VALID') pads = new Array<number>(2 * r).fill(0);
  else if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    pads = new Array<number>(2 * r).fill(0);
    for (let i = 0; i < r; i++) {
      const out = Math.ceil(spatial[i]! / strides[i]!);
      const total = Math.max(0, (out - 1) * strides[i]! + (k[i]! - 1) * dilations[i]! + 1 - spatial[i]!);
      const small = Math.floor(total / 2);
      pads[i] = auto === 'SAME_UPPER' ? small : total - small;
      pads[i + r] = total - pads[i]!;
    }
  }
  return { kernel: [...k], strides, dilations, pads };
}

/**
 * The output_padding that makes ConvTranspose(window) map `small` spatial dims back to
 * exactly `big` (the adjoint of a strided conv loses the rows a stride skipped).
 */
export function outputPadding(w: Window, small: readonly number[], big: readonly number[]): number[] {
  const r = small.length;
  return small.map((o, i) => big[i]! - (w.strides[i]! * (o - 1) + (w.kernel[i]! - 1) * w.dilations[i]! + 1 - w.pads[i]! - w.pads[i + r]!));
}

export function windowAttrs(w: Window): { kernel_shape: number[]; strides: number[]; dilations: number[]; pads: number[] } {
  return { kernel_shape: w.kernel, strides: w.strides, dilations: w.dilations, pads: w.pads };
}

export const product = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);
