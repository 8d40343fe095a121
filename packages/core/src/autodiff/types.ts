import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import type { GradientContext } from './context.js';

/**
 * What the engine differentiates: a graph node, or a virtual node standing for several
 * (a QuantizeLinear → DequantizeLinear pair is one `FakeQuantize`).
 */
export interface GradNode {
  opType: string;
  /** Name used in errors and as the `<name>_Grad/` prefix of the backward nodes. */
  name: string;
  /** The node whose attributes the builder reads (for FakeQuantize: the QuantizeLinear). */
  node: Node;
  inputs: readonly (Value | null)[];
  outputs: readonly Value[];
  /** Forward values inside a virtual node that its builder reads (ClippedFakeQuantize: the clipped input). */
  internal?: readonly Value[];
}

/**
 * A gradient a builder returns for one input: a value of that input's shape, or one of
 * a broadcast shape (the engine sums it back to the input's shape once, centrally).
 */
export type Grad = Value | { value: Value; shape: readonly number[] } | null | undefined;

export interface GradientBuilder {
  /**
   * Inputs a gradient can flow into; the others are stop edges (shapes, axes, indices,
   * bounds, running statistics). Default: every input.
   */
  differentiable?: readonly number[] | ((node: GradNode) => readonly number[]);
  /** One gradient per input (only those `ctx.needsGradient(i)` are read). */
  build(ctx: GradientContext): readonly Grad[];
}
