import { registerGradient } from '../registry.js';
import { outputPadding, product, windowAttrs, windowOf, type Window } from './window.js';

/**
 * AveragePool: each output spreads dY/count over its window = a depthwise ConvTranspose
 * with a kernel of ones, after dividing dY by the per-position counts (a constant:
 * shapes are static). count_include_pad=0 counts only the real input positions.
 */
registerGradient('AveragePool', {
  build(ctx) {
    const x = ctx.input(0);
    const xs = ctx.shape(x);
    const ys = ctx.shape(ctx.output());
    const win = windowOf(ctx, xs.slice(2));
    const c = xs[1]!;
    const counts = windowCounts(win, xs.slice(2), ys.slice(2), ctx.attr('count_include_pad', 0) === 1);
    const scaled = ctx.op('Mul', [ctx.outputGradient()!, ctx.emit.floats(counts.map((n) => 1 / n), [1, 1, ...ys.slice(2)])], {}, ys);
    const ones = ctx.emit.floats(new Array<number>(c * product(win.kernel)).fill(1), [c, 1, ...win.kernel]);
    return [ctx.op('ConvTranspose', [scaled, ones], { ...transposeAttrs(win, ys.slice(2), xs.slice(2)), group: c }, xs)];
  },
});

/** ConvTranspose attributes mapping `small` back onto `big` (ceil_mode windows past the end: crop more). */
function transposeAttrs(win: Window, small: readonly number[], big: readonly number[]) {
  const r = small.length;
  const op = outputPadding(win, small, big);
  const pads = [...win.pads];
  op.forEach((p, i) => { if (p < 0) { pads[i + r] = pads[i + r]! - p; op[i] = 0; } });
  return { ...windowAttrs({ ...win, pads }), output_padding: op };
}

/** How many input positions (padding included or not) each output window averages. */
function windowCounts(win: Window, xs: readonly number[], ys: readonly number[], includePad: boolean): number[] {
  const r = xs.length;
  const perAxis = ys.map((o, i) => Array.from({ length: o }, (_, j) => {
    let n = 0;
    for (let k = 0; k < win.kernel[i]!; k++) {
      const p = j * win.strides[i]! - win.pads[i]! + k * win.dilations[i]!;
      const lo = includePad ? -win.pads[i]! : 0;
      const hi = includePad ? xs[i]! + win.pads[i + r]! : xs[i]!;
      if (p >= lo && p < hi) n++;
    }
    return n;
  }));
  let out = [1];
  for (const axis of perAxis) out = out.flatMap((a) => axis.map((b) => a * b));
  return out;
}

/**
 * MaxPool: dY goes to the input position each maximum came from. The forward node is
 * given its Indices output (flat positions in X) if it had none, and the gradient is one
 * ScatterElements with reduction "add" (overlapping windows sum) over flattened X.
 */
registerGradient('MaxPool', {
  build(ctx) {
    const node = ctx.node.node;
    const xs = ctx.shape(ctx.input(0));
    if (ctx.attr('storage_order', 0) !== 0) throw new Error(`autodiff: MaxPool node "${ctx.node.name}" uses storage_order=1; only row-major indices have a gradient builder`);
    let indices = node.outputs[1];
    if (!indices) {
      indices = ctx.emit.graph.addValue(`${ctx.node.name}_indices`);
      node.setOutputs([node.outputs[0]!, indices]);
    }
    const n = product(xs);
    const m = product(ctx.shape(ctx.output()));
    const flat = (v: typeof indices, len: number) => ctx.emit.reshape(v, [len]);
    const zeros = ctx.op('Expand', [ctx.emit.scalar(0), ctx.emit.int64([n])], {}, [n]);
    const scattered = ctx.op('ScatterElements', [zeros, flat(indices, m), flat(ctx.outputGradient()!, m)], { axis: 0, reduction: 'add' }, [n]);
    return [ctx.emit.reshape(scattered, xs)];
  },
});

