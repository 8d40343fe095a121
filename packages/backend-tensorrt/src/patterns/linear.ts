import { choice, constant, definePattern, input, linearWeightAxis, op, type Node, type Pattern, type PatternMatch, type Value, QdqPoint } from '@qdeploy/core';
import { activation } from './activations.js';

/** Output-channel axis of a Linear weight (core's: Gemm transB=1 → 0, else 1; MatMul → last). */
export { linearWeightAxis };

const gemm = () =>
  op('Gemm', [input('input'), constant('weight')], { where: (n) => (n.attr('transA', 0) ? 'transA is set' : true) }).as('linear');
const matmul = () => op('MatMul', [input('input'), constant('weight', (t) => t.dims.length >= 2 || 'weight is not a matrix')]).as('linear');
/** MatMul + bias Add, as PyTorch exports nn.Linear on 3-D inputs. */
const matmulBias = () => op('Add', [matmul(), constant('bias')], { commutative: true }).as('biasAdd');

/** A fully connected layer: Gemm, or MatMul with a constant weight and its bias Add. */
export const linearLayer = () => choice(matmulBias(), gemm(), matmul());

const linearWeights = [{ role: 'weight', axis: linearWeightAxis }];

// ---- the size rule ---------------------------------------------------------------------

/** Default of `minLinearSize`: K·N/(K+N) ≥ 256 (the published rule for TensorRT INT8 GEMMs). */
export const DEFAULT_MIN_LINEAR_SIZE = 256;

export interface LinearRuleOptions {
  /**
   * A Linear layer is quantized only when K·N/(K+N) ≥ this (K inputs, N outputs): the
   * GEMM's arithmetic intensity per activation element once M (tokens × batch) is large.
   * Below it, INT8 saves nothing and the Q/DQ reformats cost time. 0 turns the rule off.
   * Default 256.
   */
  minLinearSize?: number;
  /**
   * Which Linear layers the size rule looks at. "tokens" (default): layers applied to a
   * sequence of tokens — MatMul with a constant weight, which is what exporters write for
   * nn.Linear on 3-D (and higher) inputs, unless the input is known to be 2-D — where
   * M = batch × tokens is large and the rule's assumption holds. A Gemm (or a 2-D MatMul)
   * has M = batch: it is weight-bandwidth-bound, and INT8 weights halve its traffic, so
   * classifier heads stay quantized. "all": every Linear layer.
   */
  sizeRuleScope?: 'tokens' | 'all';
}

/** K (inputs) and N (outputs) of the matched Linear layer. */
export function linearDims(m: PatternMatch): { k: number; n: number } {
  const lin = m.captured.linear!;
  const d = m.roles.weight!.constant()!.dims;
  if (lin.opType === 'Gemm') return lin.attr('transB', 0) ? { k: d[1]!, n: d[0]! } : { k: d[0]!, n: d[1]! };
  return { k: d[d.length - 2]!, n: d[d.length - 1]! };
}

/** K·N/(K+N) of the matched Linear layer. */
export function linearSize(m: PatternMatch): number {
  const { k, n } = linearDims(m);
  return (k * n) / (k + n);
}

/** Static rank of a tensor, when the model carries its shape. */
const rankOf = (v: Value | null | undefined): number | null => v?.shape?.length ?? null;

/** Number of rows M of `x` fed to a MatMul/Gemm, when statically known (1-D: 1). */
export function staticRows(x: Value | null | undefined, gemmNode = false): number | null {
  const s = x?.shape;
  if (!s || s.length === 0) return null;
  if (s.length === 1) return 1;
  const m = gemmNode ? s[0] : s[s.length - 2];
  return typeof m === 'number' ? m : null;
}

/**
 * Why a matched Linear layer stays in float, or null when it is worth INT8:
 * GEMV-shaped (N = 1, or M statically 1 for a MatMul), or below the size rule.
 */
export function floatLinearReason(m: PatternMatch, options: LinearRuleOptions = {}): string | null {
  const lin: Node = m.captured.linear!;
  const { k, n } = linearDims(m);
  if (n === 1) return `GEMV-shaped (N = 1: ${k}×1 weight)`;
  if (lin.opType === 'MatMul' && staticRows(lin.input(0)) === 1) return 'GEMV-shaped (M = 1)';
  const min = options.minLinearSize ?? DEFAULT_MIN_LINEAR_SIZE;
  if (min <= 0) return null;
  const scope = options.sizeRuleScope ?? 'tokens';
  if (scope === 'tokens' && (lin.opType === 'Gemm' || rankOf(lin.input(0)) === 2)) return null;
  const size = (k * n) / (k + n);
  return size < min ? `too small for INT8 (K·N/(K+N) = ${k}·${n}/${k + n} = ${+size.toFixed(1)} < ${min})` : null;
}

/** The Linear family under one size rule: quantized Linear / LinearAct, and SmallLinear left in float. */
export function linearPatterns(options: LinearRuleOptions = {}): { Linear: Pattern; LinearAct: Pattern; SmallLinear: Pattern } {
  const quantized = (m: PatternMatch) => floatLinearReason(m, options) ?? true;
  return {
    Linear: definePattern({
      name: 'Linear',
      root: linearLayer(),
      qdqPoints: [QdqPoint.INPUT],
      weights: linearWeights,
      where: quantized,
      description: 'Gemm, or MatMul with a constant weight (+ bias Add)',
    }),
    LinearAct: definePattern({
      name: 'LinearAct',
      root: activation(linearLayer()),
      qdqPoints: [QdqPoint.INPUT],
      weights: linearWeights,
      where: quantized,
      description: 'Linear → activation (fused)',
    }),
    SmallLinear: definePattern({
      name: 'SmallLinear',
      root: choice(activation(linearLayer()), linearLayer()),
      where: (m) => (floatLinearReason(m, options) ? true : 'big enough for INT8 (a Linear match)'),
      description: 'Linear (→ activation) below the size rule or GEMV-shaped: left in float',
    }),
  };
}

const defaults = linearPatterns();
/** Linear layers under the default size rule. */
export const Linear = defaults.Linear;
export const LinearAct = defaults.LinearAct;
export const SmallLinear = defaults.SmallLinear;
