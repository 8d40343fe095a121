import type { Graph } from '../../ir/graph.js';
import type { Model } from '../../ir/model.js';
import type { Node } from '../../ir/node.js';
import type { Value } from '../../ir/value.js';
import { int64s, op } from '../ops.js';

/** onnxruntime's CPU domain of blocked-layout (NCHWc) kernels, the ones its own optimizer uses for inference. */
export const NCHWC_DOMAIN = 'com.microsoft.nchwc';

/**
 * Rewrites the 2-D Convs of a graph whose weights are computed at run time (a training
 * graph: fake-quantized weights, flipped weights of dX) onto onnxruntime's NCHWc kernels:
 * ReorderInput → nchwc.Conv(weight reordered in the graph) → ReorderOutput.
 *
 * Why: onnxruntime blocks the channels of a conv (its fast inference path) only when the
 * weight is a constant, so a training step's convs ran on the plain im2col + GEMM kernel,
 * and depthwise ones as one tiny GEMM per channel. The blocked kernels read the weight at
 * run time as well; only their layout must be prepared, [M/B, C/B, kh, kw, B(c), B(m)]
 * (depthwise: [M/B, kh, kw, B(m)]), made here by reshapes and transposes.
 * Dense and depthwise convs are rewritten, on zero-padded channels where a channel count
 * is no multiple of the block size `B` and that adds little work (MAX_PADDED_WORK); the
 * others stay as they are. Returns how many were rewritten.
 */
export function lowerConvsToNchwc(model: Model, shapes: ReadonlyMap<string, readonly number[]>, blockSize: number): number {
  const g = model.graph;
  let lowered = 0;
  for (const node of [...g.nodes]) {
    const plan = nchwcPlan(node, shapes, blockSize);
    if (!plan) continue;
    rewrite(g, node, plan, blockSize);
    lowered++;
  }
  if (lowered) {
    g.cleanup().toposort(); // drops the flips now done in the reorders, and their constants
    if (model.opset(NCHWC_DOMAIN) === undefined) model.setOpset(NCHWC_DOMAIN, 1);
  }
  return lowered;
}

interface Plan {
  x: Value;
  w: Value;
  /** The weight is `w` reversed in space (a dX conv's kernel): reversed in the reorder instead. */
  flipped: boolean;
  bias: Value | null;
  m: number;
  c: number;
  /** m and c rounded up to the block: the conv runs on zero-padded channels when they differ. */
  mBlocked: number;
  cBlocked: number;
  kernel: number[];
  depthwise: boolean;
}

/**
 * A conv whose channel counts are no multiple of the block runs on zero-padded channels
 * (onnxruntime's ReorderInput pads the input, ReorderOutput drops the extra outputs, the
 * weight is padded in the graph) while that adds at most this factor to its work: the
 * 24-channel layers of a MobileNet at block 16 (×4/3), not a 3-channel stem (×5.3).
 */
const MAX_PADDED_WORK = 1.5;

function nchwcPlan(node: Node, shapes: ReadonlyMap<string, readonly number[]>, b: number): Plan | null {
  if (node.opType !== 'Conv' || node.domain !== '') return null;
  const [x, w, bias] = [node.input(0), node.input(1), node.input(2)];
  if (!x || !w || node.outputs.length !== 1) return null;
  const xs = shapes.get(x.name);
  const ws = shapes.get(w.name);
  if (xs?.length !== 4 || ws?.length !== 4) return null;
  const autoPad = node.attr('auto_pad', 'NOTSET');
  if (autoPad !== 'NOTSET' && autoPad !== '') return null;
  const group = node.attr('group', 1);
  const [m, cg] = [ws[0]!, ws[1]!];
  const c = xs[1]!;
  const depthwise = group > 1 && group === c && m === c && cg === 1;
  if (!(group === 1 || depthwise)) return null;
  const [mBlocked, cBlocked] = [m, c].map((d) => Math.ceil(d / b) * b) as [number, number];
  const work = depthwise ? mBlocked / m : (mBlocked * cBlocked) / (m * c);
  if (work > MAX_PADDED_WORK) return null;
  const source = spatialFlipSource(w, ws);
  return { x, w: source ?? w, flipped: source !== null, bias: bias ?? null, m, c, mBlocked, cBlocked, kernel: ws.slice(2), depthwise };
}

/**
 * The value a weight is the spatial reversal of (Slice with steps −1 over its whole kernel
 * axes, as autodiff flips a dX conv's kernel), else null. onnxruntime's Slice runs element
 * by element on negative steps (5.8 ms for a 512×512×3×3 weight); the reorder reverses the
 * kernel positions as whole blocks instead.
 */
function spatialFlipSource(w: Value, ws: readonly number[]): Value | null {
  const slice = w.producer;
  if (!slice || slice.opType !== 'Slice' || slice.domain !== '' || w.uses.length !== 1) return null;
  const ints = (i: number) => slice.input(i)?.constant()?.toNumbers() ?? null;
  const [starts, ends, axes, steps] = [ints(1), ints(2), ints(3), ints(4)];
  if (!starts || !ends || !axes || !steps || axes.length !== 2) return null;
  const ok = axes.every((a, i) => {
    const axis = a < 0 ? a + 4 : a;
    const d = ws[axis]!;
    return axis === i + 2 && steps[i] === -1 && (starts[i]! >= d - 1 || starts[i] === -1) && ends[i]! <= -d - 1;
  });
  return ok ? slice.input(0) : null;
}

/**
 * The run-time weight a lowered depthwise conv reads through its weight reorder (the
 * chain `rewrite` builds: Reshape [M/B, B, K] → Transpose → Reshape), or null for any
 * other conv. keepBlocked uses it to hand the conv a weight already in the blocked layout.
 */
export function depthwiseWeightSource(conv: Node): Value | null {
  if (conv.domain !== NCHWC_DOMAIN || conv.opType !== 'Conv' || conv.attr('group', 1) === 1) return null;
  const last = conv.input(1)?.producer;
  const t = last?.opType === 'Reshape' ? last.input(0)?.producer : null;
  const perm = t?.opType === 'Transpose' ? (t.attr('perm', null) as number[] | null) : null;
  const first = perm?.join() === '0,2,1' ? t!.input(0)?.producer : null;
  return first?.opType === 'Reshape' ? first.input(0) : null;
}

function rewrite(g: Graph, node: Node, p: Plan, b: number): void {
  const name = g.uniqueName(`${node.name || 'Conv'}_nchwc`);
  const reshape = (v: Value, dims: readonly number[]) => op(g, 'Reshape', [v, int64s(g, `${name}_shape`, dims)], name);
  const [kh, kw] = p.kernel as [number, number];
  const k = kh * kw;
  // Kernel positions reversed as whole blocks (Gather on the position axis), for a flipped weight.
  const positions = (v: Value, outer: number, inner: number) => (p.flipped
    ? op(g, 'Gather', [reshape(v, [outer, k, inner]), int64s(g, `${name}_reversed`, Array.from({ length: k }, (_, i) => k - 1 - i))], name, { axis: 1 })
    : v);
  const transpose = (v: Value, perm: number[]) => op(g, 'Transpose', [v], name, { perm });
  const [m, c] = [p.mBlocked, p.cBlocked];
  const padM = m - p.m;
  const padC = p.depthwise ? 0 : c - p.c;
  const w = padM || padC ? op(g, 'Pad', [p.w, int64s(g, `${name}_pads`, [0, 0, 0, 0, padM, padC, 0, 0])], name) : p.w;
  const bias = p.bias && padM ? op(g, 'Pad', [p.bias, int64s(g, `${name}_pads`, [0, padM])], name) : p.bias;
  let blocked: Value;
  if (p.depthwise) {
    blocked = positions(transpose(reshape(w, [m / b, b, k]), [0, 2, 1]), m / b, b); // [M/B, K, B(m)]
  } else {
    // [M/B, B(m), C·K] → [M/B, C·K, B(m)], then per (M/B, C/B) block [B(c), K, B(m)] →
    // [K, B(c), B(m)]. Two transposes whose inner runs onnxruntime copies fast: half the
    // time of the one 6-D permutation (512×512×3×3: 6.3 against 12.4 ms, one thread).
    const blocks = (m / b) * (c / b);
    const outLanes = transpose(reshape(w, [m / b, b, c * k]), [0, 2, 1]);
    blocked = positions(transpose(reshape(outLanes, [blocks, b, k, b]), [0, 2, 1, 3]), blocks, b * b);
  }
  const weight = reshape(blocked, p.depthwise ? [m, 1, kh, kw] : [m, c, kh, kw]);
  const xIn = g.addNode({ opType: 'ReorderInput', domain: NCHWC_DOMAIN, inputs: [p.x], attrs: { channels_last: 0 }, name: g.uniqueName(`${name}/ReorderInput`) }).outputs[0]!;
  const attrs: Record<string, number | number[]> = { group: p.depthwise ? c : 1 };
  for (const a of ['strides', 'pads', 'dilations', 'kernel_shape'] as const) {
    const v = node.attr(a);
    if (Array.isArray(v)) attrs[a] = v as number[];
  }
  const conv = g.addNode({ opType: 'Conv', domain: NCHWC_DOMAIN, inputs: bias ? [xIn, weight, bias] : [xIn, weight], attrs, name: g.uniqueName(`${name}/Conv`) }).outputs[0]!;
  const y = node.outputs[0]!;
  g.removeNode(node);
  g.addNode({ opType: 'ReorderOutput', domain: NCHWC_DOMAIN, inputs: [conv], outputs: [y], attrs: { channels_last: 0, channels: p.m }, name: g.uniqueName(`${name}/ReorderOutput`) });
}
