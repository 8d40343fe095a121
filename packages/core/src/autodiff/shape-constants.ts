/**
 * Shape arithmetic made constant. Exporters compute slice bounds, reshape targets and
 * axes from Shape ops (torchvision's attention slices its packed q/k/v projection at
 * Shape → Gather → Div → Mul offsets). With the batch baked in, every such value is a
 * constant, and gradient builders need constants there (a Slice's gradient pads by its
 * starts). `shapeComputedValues` names the values computed from shapes alone that the
 * rest of the graph reads; after one run captures them (staticShapes' `capture`),
 * `replaceWithConstants` turns them into initializers and drops what computed them.
 */
import { DataType, type DataTypeCode, type TypedArray } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import type { Value } from '../ir/value.js';

/** Ops whose output depends only on their inputs' shapes. */
const SHAPE_READERS = new Set(['Shape', 'Size']);
/** Ops with no deterministic value (never folded). */
const NONDETERMINISTIC = new Set(['RandomNormal', 'RandomNormalLike', 'RandomUniform', 'RandomUniformLike', 'Multinomial', 'Bernoulli', 'Dropout']);

/**
 * The values computed from shapes and constants alone (no data, no weight a step feeds)
 * that a node depending on data reads, or that the graph outputs: the frontier of the
 * shape computations, each a constant once shapes are static.
 */
export function shapeComputedValues(graph: Graph): Set<string> {
  const fixed = new Set<Value>();
  const isFixed = (v: Value | null) => v === null || fixed.has(v) || (v.constant() !== null && !graph.inputs.includes(v));
  for (const n of graph.nodes) {
    if (n.domain !== '' || NONDETERMINISTIC.has(n.opType) || n.hasSubgraphs() || n.opType === 'Constant') continue;
    if (SHAPE_READERS.has(n.opType) || n.inputs.every(isFixed)) for (const o of n.outputs) fixed.add(o);
  }
  const frontier = new Set<string>();
  const outputs = new Set(graph.outputs);
  for (const v of fixed) {
    if (v.constant() !== null) continue; // already one
    if (outputs.has(v) || v.consumers.some((c) => !c.outputs.every((o) => fixed.has(o)))) frontier.add(v.name);
  }
  return frontier;
}

/** Each named value becomes an initializer holding `values`' tensor; the nodes only they needed go. */
export function replaceWithConstants(graph: Graph, values: ReadonlyMap<string, Tensor>): void {
  if (values.size === 0) return;
  for (const [name, t] of values) {
    const v = graph.value(name);
    if (!v) continue;
    const c = graph.addInitializer(graph.uniqueName(`${name}_static`), t);
    graph.replaceAllUses(v, c);
    if (graph.outputs.includes(v)) graph.outputs = graph.outputs.map((o) => (o === v ? c : o));
  }
  graph.cleanup();
}

/** An onnxruntime output as an IR tensor (the element types shape arithmetic uses), or null. */
export function tensorOf(type: string, data: unknown, dims: readonly number[]): Tensor | null {
  const dt = ORT_TYPES[type];
  if (dt === undefined) return null;
  return Tensor.fromArray((dt === DataType.BOOL ? Uint8Array.from(data as ArrayLike<number>) : (data as TypedArray).slice()) as TypedArray, dims, dt);
}

const ORT_TYPES: Record<string, DataTypeCode> = {
  int64: DataType.INT64,
  int32: DataType.INT32,
  float32: DataType.FLOAT,
  bool: DataType.BOOL,
};
