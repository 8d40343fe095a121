import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import type { NodeChoice, NodePattern } from './dsl.js';

/**
 * Where a pattern wants an activation quantized: each point names the role (a tensor
 * the match binds) that gets a QuantStub.
 */
export const QdqPoint = {
  /** The activation entering the pattern's weighted op. */
  INPUT: 'input',
  /** The skip input of a residual Add (so TensorRT fuses Conv+Add with an INT8 output). */
  RESIDUAL_INPUT: 'residual',
  /**
   * The group's output, dequantized for every reader (runtimes such as onnxruntime's CPU
   * provider fuse an op only when a Q follows it). Graph outputs stay float.
   */
  OUTPUT: 'output',
  /** Attention: the query and key entering Q·Kᵀ. */
  ATTN_QUERY: 'query',
  ATTN_KEY: 'key',
  /** Attention: the softmax probabilities and the values entering softmax·V. */
  ATTN_PROBS: 'probs',
  ATTN_VALUE: 'value',
} as const;
export type QdqPoint = (typeof QdqPoint)[keyof typeof QdqPoint] | (string & {});

/** A weight the pattern quantizes, and its output-channel axis. */
export interface WeightSpec {
  role: string;
  /** Per-channel axis (the output-channel axis of the weight). */
  axis: number | ((m: PatternMatch) => number);
}

export type PatternKind = 'conversion' | 'fusion';

export interface Pattern {
  name: string;
  kind: PatternKind;
  /** What the pattern matches, as a tree rooted at its last node. */
  root: NodePattern | NodeChoice;
  /** Activations to quantize; none means the group runs in float. */
  qdqPoints: readonly QdqPoint[];
  /** Weights to fake-quantize (per-channel along their output-channel axis). */
  weights: readonly WeightSpec[];
  /** A check on the whole match; return a string to reject it with that reason. */
  where?: (m: PatternMatch, graph: Graph) => true | string;
  /** Conversions: rewrites the matched subgraph (then transform() cleans up). */
  rewrite?: (m: PatternMatch, graph: Graph) => void;
  /**
   * Tensors of a match whose activation quantizers must share one scale, because the
   * target moves Q/DQ across the op (or merges its tensors) only when their scales are
   * equal: a Concat's inputs and output, a MaxPool's input and output. insertQdq joins
   * the stubs on these tensors (transitively, across matches) into one scale group that
   * calibrate() calibrates together.
   */
  sharedScale?: (m: PatternMatch) => readonly (Value | null)[];
  description?: string;
}

export interface PatternMatch {
  pattern: Pattern;
  /** Matched nodes in graph order. */
  nodes: Node[];
  /** The last node of the group (the pattern's root). */
  anchor: Node;
  /** Tensors playing each role: input, residual, weight, bias, output, ... */
  roles: Record<string, Value>;
  /** Named nodes of the pattern (e.g. conv, bn, act). */
  captured: Record<string, Node>;
  qdqPoints: readonly QdqPoint[];
}

export interface PatternSpec {
  name: string;
  kind?: PatternKind;
  root: NodePattern | NodeChoice;
  qdqPoints?: readonly QdqPoint[];
  weights?: readonly WeightSpec[];
  where?: (m: PatternMatch, graph: Graph) => true | string;
  rewrite?: (m: PatternMatch, graph: Graph) => void;
  sharedScale?: (m: PatternMatch) => readonly (Value | null)[];
  description?: string;
}

export function definePattern(spec: PatternSpec): Pattern {
  const kind = spec.kind ?? (spec.rewrite ? 'conversion' : 'fusion');
  if (kind === 'conversion' && !spec.rewrite) throw new Error(`pattern ${spec.name}: a conversion needs a rewrite`);
  return {
    name: spec.name,
    kind,
    root: spec.root,
    qdqPoints: spec.qdqPoints ?? [],
    weights: spec.weights ?? [],
    where: spec.where,
    rewrite: spec.rewrite,
    ...(spec.sharedScale ? { sharedScale: spec.sharedScale } : {}),
    description: spec.description,
  };
}

/** The output-channel axis a weight spec names for a given match. */
export function weightAxis(spec: WeightSpec, m: PatternMatch): number {
  return typeof spec.axis === 'function' ? spec.axis(m) : spec.axis;
}
