/**
 * Output-channel axes of weights, for a pattern's `weights: [{ role, axis }]`: the axis
 * per-channel weight quantization runs along. Every backend needs the same answers
 * (TensorRT's rules: Conv KCRS → 0, ConvTranspose CKRS → 1, Gemm transB=1 → 0), so they
 * live here rather than in each backend.
 */
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import type { PatternMatch } from './pattern.js';

/**
 * The output-channel axis of `weight` as `node` reads it: Conv → 0, ConvTranspose → 1,
 * Gemm → 0 with transB=1 else 1, MatMul → the weight's last axis. Throws for other ops.
 */
export function outputChannelAxis(node: Node, weight?: Value): number {
  switch (node.opType) {
    case 'Conv':
      return 0;
    case 'ConvTranspose':
      return 1;
    case 'Gemm':
      return node.attr('transB', 0) ? 0 : 1;
    case 'MatMul': {
      const w = weight ?? node.input(1);
      const rank = w?.constant()?.dims.length ?? w?.shape?.length;
      if (!rank) throw new Error(`outputChannelAxis: the rank of MatMul ${node.name}'s weight is unknown`);
      return rank - 1;
    }
    default:
      throw new Error(`outputChannelAxis: no known output-channel axis for ${node.opType} (${node.name}); give the pattern's weight axis as a number`);
  }
}

/**
 * A `WeightSpec.axis` function: the output-channel axis of the weight in role `role`, as
 * the matched node that reads it uses it. `weights: [{ role: 'weight', axis: weightAxisOf() }]`
 * works for any Conv / ConvTranspose / Gemm / MatMul pattern.
 */
export function weightAxisOf(role = 'weight'): (m: PatternMatch) => number {
  return (m) => {
    const w = m.roles[role];
    if (!w) throw new Error(`pattern ${m.pattern.name}: no tensor plays role "${role}"`);
    const reader = m.nodes.find((n) => n.inputs.includes(w));
    if (!reader) throw new Error(`pattern ${m.pattern.name}: no matched node reads its "${role}" tensor ${w.name}`);
    return outputChannelAxis(reader, w);
  };
}

/** Output-channel axis of a conv weight: KCRS → 0, ConvTranspose CKRS → 1. */
export const convWeightAxis: (m: PatternMatch) => number = weightAxisOf('weight');
/** Output-channel axis of a Linear weight: Gemm [N,K] transB=1 → 0, [K,N] → 1; MatMul [..., K, N] → last. */
export const linearWeightAxis: (m: PatternMatch) => number = weightAxisOf('weight');
