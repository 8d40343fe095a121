import { DataType } from '../../ir/dtype.js';
import type { Graph } from '../../ir/graph.js';
import type { Model } from '../../ir/model.js';
import type { Node } from '../../ir/node.js';
import type { Value } from '../../ir/value.js';
import { quantizedType } from '../../autodiff/quantized-range.js';
import { sameShape } from '../../autodiff/context.js';
import { int64s, op } from '../ops.js';
import { depthwiseWeightSource, NCHWC_DOMAIN } from './lower-convs.js';

/**
 * Keeps activations and their gradients in the blocked (NCHWc) layout between the convs
 * `lowerConvsToNchwc` rewrote, as onnxruntime's own inference optimizer does, instead of
 * reordering every conv's input in and its output back out.
 *
 * A training step reorders far more than an inference: each conv's input and output in
 * the forward, each dX conv's dY and dX in the backward (the fixture MobileNet: 27 pairs,
 * a fifth of its step; the torchvision MobileNetV2 a quarter). Between two convs there are
 * only element-wise ops (activations, fake quant, STE masks, gradient sums), which compute
 * the same on either layout. So, in topological order:
 * - an element-wise op whose inputs are blocked (or one-element) runs on the blocked data;
 * - a ReorderInput of a value that is blocked reads the blocked data instead;
 * - a sum over all axes (a learned scale's gradient) reads the blocked data;
 * - a Transpose (a dW's NCHW → NHWC) becomes one transpose of the 5-D blocked view;
 * - a Reshape that folds the batch into the channels ([1, N·C, H, W], the depthwise dW's
 *   image) and a depthwise dW's kernels ([N·C, 1, h, w] from dY) are views of the blocked
 *   data already.
 * Whatever still reads the plain layout gets one ReorderOutput per value. Returns how
 * many reorders were dropped.
 */
export function keepBlocked(model: Model, shapes: ReadonlyMap<string, readonly number[]>, block: number): number {
  const g = model.graph;
  g.toposort();
  const before = countReorders(g);
  const pass = new BlockedPass(g, shapes, block);
  for (const node of [...g.nodes]) pass.visit(node);
  pass.materializeOrphans(); // for every reader left; cleanup drops those only dead nodes read
  g.cleanup().toposort();
  return before - countReorders(g);
}

/** A value's blocked twin: the same tensor in the NCHWc layout, and its element type. */
interface Twin {
  value: Value;
  elemType: number;
  /** The plain value's [N, C, H, W]. */
  dims: readonly number[];
  /** C is no multiple of the block: the blocked data has zero-padded channels (see below). */
  padded: boolean;
}

/** Ops computed element by element (with numpy broadcasting of one-element operands). */
const ELEMENTWISE = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Sum', 'Max', 'Min', 'Pow', 'Where',
  'Relu', 'Clip', 'LeakyRelu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Erf', 'Exp', 'Neg', 'Abs', 'Sign', 'Round', 'Floor', 'Ceil', 'Sqrt', 'Reciprocal', 'Identity',
  'Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'And', 'Or', 'Not', 'Cast',
  'QuantizeLinear', 'DequantizeLinear',
]);
/**
 * Element-wise ops that keep a padded channel finite (zeros in, finite out), so a later
 * conv's zero weights for it contribute nothing: no division by a blocked operand (0 / 0),
 * no Pow or Reciprocal. Views and sums see the padding, so padded data stays out of them.
 */
const PADDING_SAFE = new Set([...ELEMENTWISE].filter((o) => !['Pow', 'Reciprocal'].includes(o)));
const BOOLEAN = new Set(['Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'And', 'Or', 'Not']);
const FULL_REDUCTIONS = new Set(['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin']);

class BlockedPass {
  private readonly twins = new Map<Value, Twin>();
  /** Plain values whose producer moved to the blocked layout: given a ReorderOutput if anything still reads them. */
  private readonly orphans = new Set<Value>();

  constructor(private readonly g: Graph, private readonly shapes: ReadonlyMap<string, readonly number[]>, private readonly block: number) {}

  visit(node: Node): void {
    if (node.domain === NCHWC_DOMAIN) return this.visitNchwc(node);
    if (node.domain !== '' || node.outputs.length !== 1) return;
    if (ELEMENTWISE.has(node.opType)) this.elementwise(node);
    else if (FULL_REDUCTIONS.has(node.opType)) this.fullReduction(node);
    else if (node.opType === 'Transpose') this.transpose(node);
    else if (node.opType === 'Reshape') this.foldBatch(node);
  }

  private visitNchwc(node: Node): void {
    const plainLayout = node.attr('channels_last', 0) === 0;
    const dims = this.shapes.get(node.output().name);
    if (node.opType === 'ReorderOutput' && plainLayout && dims?.length === 4) {
      this.twins.set(node.output(), { value: node.input(0)!, elemType: DataType.FLOAT, dims, padded: dims[1]! % this.block !== 0 });
    } else if (node.opType === 'ReorderInput' && plainLayout) {
      const t = this.twins.get(node.input(0)!);
      if (t?.elemType === DataType.FLOAT) this.g.replaceAllUses(node.output(), t.value);
    } else if (node.opType === 'Conv') {
      this.depthwiseKernelsFromDy(node);
    }
  }

  private elementwise(node: Node): void {
    const out = node.output();
    let dims: readonly number[] | null = null;
    let padded = false;
    const inputs: (Value | null)[] = [];
    const types: (number | null)[] = []; // element types of the blocked operands
    for (const [i, v] of node.inputs.entries()) {
      const t = v ? this.twins.get(v) : undefined;
      if (t && (dims === null || sameShape(t.dims, dims))) {
        if (t.padded && (!PADDING_SAFE.has(node.opType) || (node.opType === 'Div' && i === 1))) return;
        dims = t.dims;
        padded ||= t.padded;
        inputs.push(t.value);
        types.push(t.elemType);
      } else if (!v || this.size(v) === 1) {
        inputs.push(v);
        types.push(null);
      } else {
        return; // a full-size operand in the plain layout (or a broadcast one): stays plain
      }
    }
    if (dims === null) return;
    const name = this.g.uniqueName(`${node.name || node.opType}_blocked`);
    const attrs = Object.fromEntries(node.attributes);
    const twin = this.g.addNode({ opType: node.opType, name, inputs, attrs, outputs: [this.g.addValue(`${name}_out`)] }).output();
    this.g.removeNode(node);
    this.twins.set(out, { value: twin, elemType: resultType(node, types), dims, padded });
    this.orphans.add(out);
  }

  /** A sum (mean, max, min) over every axis does not care about the layout. */
  private fullReduction(node: Node): void {
    const x = node.input(0)!;
    const t = this.twins.get(x);
    if (!t || t.padded) return;
    const rank = t.dims.length;
    const axesInput = node.input(1);
    if (axesInput && !axesInput.constant()) return; // axes known only at run time
    const axes = axesInput?.constant()?.toNumbers() ?? (node.attr('axes', null) as number[] | null);
    const all = axes === null || axes === undefined
      ? node.attr('noop_with_empty_axes', 0) === 0
      : new Set(axes.map((a) => (a < 0 ? a + rank : a))).size === rank;
    if (all) node.setInput(0, t.value);
  }

  /** A Transpose of [N, C, H, W] is one of the blocked [N, C/B, H, W, B] with C's two parts kept together. */
  private transpose(node: Node): void {
    const x = node.input(0)!;
    const t = this.twins.get(x);
    const out = node.output();
    if (!t || t.elemType !== DataType.FLOAT || t.padded) return;
    const [n, c, h, w] = t.dims as [number, number, number, number];
    const perm = node.attr('perm', [3, 2, 1, 0]) as number[];
    const ys = perm.map((p) => t.dims[p]!);
    const base = node.name || 'Transpose';
    const view = op(this.g, 'Reshape', [t.value, int64s(this.g, `${base}_blocked_shape`, [n, c / this.block, h, w, this.block])], base);
    const moved = op(this.g, 'Transpose', [view], base, { perm: perm.flatMap((p) => (p === 1 ? [1, 4] : [p])) });
    this.g.removeNode(node);
    this.g.addNode({ opType: 'Reshape', name: this.g.uniqueName(`${base}_Reshape`), inputs: [moved, int64s(this.g, `${base}_shape`, ys)], outputs: [out] });
  }

  /** [N, C, H, W] → [1, N·C, H, W]: in the blocked layout the same bytes (N·C/B blocks, n-major). */
  private foldBatch(node: Node): void {
    const x = node.input(0)!;
    const t = this.twins.get(x);
    const out = node.output();
    const target = node.input(1)?.constant()?.toNumbers();
    if (!t || t.padded || !target) return;
    const [n, c, h, w] = t.dims as [number, number, number, number];
    const ys = [1, n * c, h, w];
    if (!sameShape(target, ys)) return;
    const twin = op(this.g, 'Reshape', [t.value, int64s(this.g, `${node.name || 'Reshape'}_blocked_shape`, ys)], node.name || 'Reshape');
    this.g.removeNode(node);
    this.twins.set(out, { value: twin, elemType: t.elemType, dims: ys, padded: false });
    this.orphans.add(out);
  }

  /**
   * A depthwise dW conv's kernels are dY as [N·C, 1, h, w]; the blocked depthwise weight
   * layout [N·C/B, h·w, B] is dY's blocked layout already, so no weight reorder is needed.
   */
  private depthwiseKernelsFromDy(conv: Node): void {
    const w = depthwiseWeightSource(conv);
    const fold = w?.producer;
    const dy = fold?.opType === 'Reshape' ? fold.input(0)! : null;
    const t = dy ? this.twins.get(dy) : undefined;
    const target = fold?.input(1)?.constant()?.toNumbers();
    if (!t || t.elemType !== DataType.FLOAT || t.padded || !target) return;
    const ws = [t.dims[0]! * t.dims[1]!, 1, t.dims[2]!, t.dims[3]!];
    if (!sameShape(target, ws)) return;
    conv.setInput(1, op(this.g, 'Reshape', [t.value, int64s(this.g, `${conv.name}_kernels_shape`, ws)], conv.name));
  }

  /** One ReorderOutput (casts around it for a non-float twin) for each plain value something still reads. */
  materializeOrphans(): void {
    for (const v of this.orphans) {
      if (v.uses.length === 0 && !this.g.outputs.includes(v)) continue;
      const t = this.twins.get(v)!;
      const dims = t.dims;
      const name = this.g.uniqueName(`${v.name}_ReorderOutput`);
      const float = t.elemType === DataType.FLOAT;
      const src = float ? t.value : op(this.g, 'Cast', [t.value], name, { to: DataType.FLOAT });
      const attrs = { channels_last: 0, channels: dims[1]! };
      if (float) {
        this.g.addNode({ opType: 'ReorderOutput', domain: NCHWC_DOMAIN, name, inputs: [src], outputs: [v], attrs });
      } else {
        const plain = this.g.addNode({ opType: 'ReorderOutput', domain: NCHWC_DOMAIN, name, inputs: [src], attrs }).output();
        this.g.addNode({ opType: 'Cast', name: this.g.uniqueName(`${name}_Cast`), inputs: [plain], outputs: [v], attrs: { to: t.elemType } });
      }
    }
  }

  private size(v: Value): number {
    const c = v.constant();
    const dims = c ? c.dims : this.shapes.get(v.name);
    return dims ? dims.reduce((a, b) => a * Number(b), 1) : Number.NaN;
  }
}

/** The element type of an element-wise op's output, given its blocked operands' types (null: a one-element operand). */
function resultType(node: Node, types: readonly (number | null)[]): number {
  if (BOOLEAN.has(node.opType)) return DataType.BOOL;
  if (node.opType === 'Cast') return node.attr('to', DataType.FLOAT);
  if (node.opType === 'QuantizeLinear') return quantizedType(node);
  if (node.opType === 'DequantizeLinear') return DataType.FLOAT;
  const values = node.opType === 'Where' ? types.slice(1) : types; // Where's condition is boolean
  return values.find((t) => t !== null) ?? DataType.FLOAT;
}

function countReorders(g: Graph): number {
  return g.nodes.filter((n) => n.domain === NCHWC_DOMAIN && (n.opType === 'ReorderInput' || n.opType === 'ReorderOutput')).length;
}
