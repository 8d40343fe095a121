import type { Graph } from '../ir/graph.js';
import { DataType } from '../ir/dtype.js';
import type { Value } from '../ir/value.js';
import { Emitter, GradientContext, sameShape } from './context.js';
import { MissingGradientError } from './errors.js';
import { gradientNodes } from './gradient-nodes.js';
import { concatOfTiles } from './tiled-sum.js';
import { differentiableInputs, gradientBuilder } from './registry.js';
import type { Grad, GradNode } from './types.js';
import './builders/index.js';

export interface GradientOptions {
  /** Name of a scalar float value in the graph. */
  loss: string;
  /** Graph inputs / initializers that need a gradient. */
  wrt: readonly string[];
  /** Static shape of every float value (batch baked in), e.g. from staticShapes(). */
  shapes: ReadonlyMap<string, readonly number[]>;
  /** Values through which no gradient flows (e.g. weight scales computed from the weights). */
  stopGradient?: ReadonlySet<string>;
  /**
   * The channel block of the blocked (NCHWc) conv kernels the graph's 2-D Convs will run
   * on, when the caller lowers them (QAT's session does): builders may then emit Convs
   * that are fast only there (a depthwise weight gradient as one grouped Conv).
   */
  blockedConvs?: number;
  /**
   * Values (output → input) computed from one input by a chain whose gradient is the
   * identity there: a weight's fake quant on the grid of its own max |w|, which clips
   * nothing. The chain is not differentiated; dY passes to the input as it is.
   */
  straightThrough?: ReadonlyMap<string, string>;
}

export interface GradientResult {
  /** wrt name → name of its gradient value (`${name}_grad`), also a graph output. */
  gradients: Map<string, string>;
  /** The static shapes given, plus those of every value the backward pass added. */
  shapes: ReadonlyMap<string, readonly number[]>;
}

/**
 * Reverse-mode autodiff over an ONNX graph: appends the backward nodes (standard ONNX
 * ops, static shapes) to `graph` in place and adds one graph output per gradient.
 * Only nodes on a path from a `wrt` value to the loss are differentiated; every such
 * node's builder is looked up first, so a missing one throws before the graph changes.
 */
export function buildGradientGraph(graph: Graph, options: GradientOptions): GradientResult {
  const loss = graph.value(options.loss);
  if (!loss) throw new Error(`autodiff: loss "${options.loss}" is not a value of the graph`);
  const wrt = options.wrt.map((name) => {
    const v = graph.value(name);
    if (!v) throw new Error(`autodiff: wrt "${name}" is not a value of the graph`);
    return v;
  });
  const stop = options.stopGradient ?? new Set<string>();
  graph.toposort();
  const nodes = gradientNodes(graph, new Set(wrt), options.straightThrough);
  const { active, needs } = reachable(nodes, wrt, loss, stop);
  for (const n of active) if (!gradientBuilder(n.opType)) throw new MissingGradientError(n.opType, n.name);

  const floatType = wrt.map((v) => v.elemType).find((t) => t === DataType.DOUBLE || t === DataType.FLOAT) ?? DataType.FLOAT;
  const shapes = new Map(options.shapes);
  const emit = new Emitter(graph, shapes, floatType);
  const acc = new Accumulator(emit);
  emit.setPrefix(`${loss.name}_Grad`);
  const lossShape = emit.shapeOf(loss);
  acc.add(loss, emit.floats(new Array<number>(lossShape.reduce((a, b) => a * b, 1)).fill(1), lossShape));

  for (let k = active.length - 1; k >= 0; k--) {
    const n = active[k]!;
    emit.setPrefix(`${n.name}_Grad`);
    const outGrads = n.outputs.map((o) => acc.total(o));
    if (outGrads.every((g) => !g)) continue;
    const need = needs.get(n)!;
    const grads = gradientBuilder(n.opType)!.build(new GradientContext(n, emit, outGrads, need, options.blockedConvs ?? null));
    need.forEach((wanted, i) => {
      if (wanted) acc.addGrad(n.inputs[i]!, grads[i], n);
    });
  }

  const gradients = new Map<string, string>();
  emit.setPrefix('grad');
  for (const v of wrt) {
    let g = acc.total(v);
    const shape = emit.shapeOf(v);
    if (!g) g = emit.op('Expand', [emit.scalar(0), emit.int64(shape)], {}, shape); // no path to the loss
    const name = `${v.name}_grad`;
    if (g.name !== name) {
      if (acc.isPrivate(g) && !graph.value(name)) graph.rename(g, name);
      else { const id = graph.addNode({ opType: 'Identity', name: graph.uniqueName(`${name}_Identity`), inputs: [g], outputs: [graph.getOrCreateValue(name)] }); g = id.output(); }
    }
    acc.claim(g);
    graph.outputs.push(g);
    gradients.set(v.name, g.name);
  }
  return { gradients, shapes };
}

/**
 * Forward reachability from `wrt` ∩ backward reachability from the loss, along
 * differentiable edges only. Returns the nodes to differentiate (graph order) and, per
 * node, which inputs need a gradient.
 */
function reachable(nodes: readonly GradNode[], wrt: readonly Value[], loss: Value, stop: ReadonlySet<string>) {
  const edges = new Map(nodes.map((n) => [n, differentiableInputs(n)]));
  const forward = new Set<Value>(wrt.filter((v) => !stop.has(v.name)));
  for (const n of nodes) {
    if (edges.get(n)!.some((i) => n.inputs[i] && forward.has(n.inputs[i]!))) {
      for (const o of n.outputs) if (!stop.has(o.name)) forward.add(o);
    }
  }
  const backward = new Set<Value>([loss]);
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k]!;
    if (!n.outputs.some((o) => backward.has(o))) continue;
    for (const i of edges.get(n)!) if (n.inputs[i] && !stop.has(n.inputs[i]!.name)) backward.add(n.inputs[i]!);
  }
  if (!forward.has(loss)) throw new Error(`autodiff: loss "${loss.name}" does not depend on any of the wrt values through differentiable ops`);
  const active: GradNode[] = [];
  const needs = new Map<GradNode, boolean[]>();
  for (const n of nodes) {
    if (!n.outputs.some((o) => forward.has(o) && backward.has(o))) continue;
    const e = new Set(edges.get(n)!);
    const need = n.inputs.map((v, i) => !!v && e.has(i) && forward.has(v) && backward.has(v));
    if (!need.some(Boolean)) continue;
    active.push(n);
    needs.set(n, need);
  }
  return { active, needs };
}

/** Gradient contributions per value; summed (one Sum node, or one Concat of tiles) the first time the total is read. */
class Accumulator {
  private readonly parts = new Map<Value, Value[]>();
  private readonly totals = new Map<Value, Value>();
  /** Backward values already serving as some value's gradient (never renamed again). */
  private readonly claimed = new Set<Value>();

  constructor(private readonly emit: Emitter) {}

  add(v: Value, g: Value): void {
    if (this.totals.has(v)) throw new Error(`autodiff: gradient of "${v.name}" read before all contributions arrived (graph not in topological order?)`);
    const list = this.parts.get(v) ?? [];
    list.push(g);
    this.parts.set(v, list);
  }

  /** Adds a builder's result for input `v`, summed back to v's shape when broadcast. */
  addGrad(v: Value, grad: Grad, n: GradNode): void {
    if (!grad) return;
    const target = this.emit.shapeOf(v);
    const value = 'value' in grad ? grad.value : grad;
    const from = 'value' in grad ? grad.shape : this.emit.hasShape(value) ? this.emit.shapeOf(value) : target;
    if (!sameShape(from, target) && from.reduce((a, b) => a * b, 1) < target.reduce((a, b) => a * b, 1)) {
      throw new Error(`autodiff: the ${n.opType} builder of "${n.name}" returned a gradient of shape [${from.join(',')}] for "${v.name}" of shape [${target.join(',')}]`);
    }
    this.add(v, this.emit.unbroadcast(value, from, target));
  }

  total(v: Value): Value | null {
    const done = this.totals.get(v);
    if (done) return done;
    const list = this.parts.get(v);
    if (!list) return null;
    const shape = this.emit.shapeOf(v);
    const g = list.length === 1 ? list[0]! : (concatOfTiles(this.emit, list, shape) ?? this.emit.op('Sum', list, {}, shape));
    if (this.isPrivate(g) && !this.emit.graph.value(`${v.name}_grad`)) this.emit.graph.rename(g, `${v.name}_grad`);
    this.emit.setShape(g, shape);
    this.claimed.add(g);
    this.totals.set(v, g);
    return g;
  }

  claim(g: Value): void {
    this.claimed.add(g);
  }

  /** A backward value made by a builder and not yet anybody's named gradient. */
  isPrivate(g: Value): boolean {
    return !!g.producer && g.producer.name.includes('_Grad/') && !this.claimed.has(g) && !this.emit.graph.outputs.includes(g);
  }
}
