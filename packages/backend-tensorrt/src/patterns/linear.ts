import { choice, constant, definePattern, input, op, type PatternMatch, QdqPoint } from '@qdeploy/core';
import { activation } from './activations.js';

/**
 * Output-channel axis of a Linear weight: Gemm B is [N,K] with transB=1 (axis 0) or
 * [K,N] (axis 1); a MatMul weight is [..., K, N] (last axis).
 */
export const linearWeightAxis = (m: PatternMatch): number => {
  const n = m.captured.linear!;
  if (n.opType === 'Gemm') return n.attr('transB', 0) ? 0 : 1;
  return m.roles.weight!.constant()!.dims.length - 1;
};

const gemm = () =>
  op('Gemm', [input('input'), constant('weight')], { where: (n) => (n.attr('transA', 0) ? 'transA is set' : true) }).as('linear');
const matmul = () => op('MatMul', [input('input'), constant('weight', (t) => t.dims.length >= 2 || 'weight is not a matrix')]).as('linear');
/** MatMul + bias Add, as PyTorch exports nn.Linear on 3-D inputs. */
const matmulBias = () => op('Add', [matmul(), constant('bias')], { commutative: true }).as('biasAdd');

/** A fully connected layer: Gemm, or MatMul with a constant weight and its bias Add. */
export const linearLayer = () => choice(matmulBias(), gemm(), matmul());

const linearWeights = [{ role: 'weight', axis: linearWeightAxis }];

export const Linear = definePattern({
  name: 'Linear',
  root: linearLayer(),
  qdqPoints: [QdqPoint.INPUT],
  weights: linearWeights,
  description: 'Gemm, or MatMul with a constant weight (+ bias Add)',
});

export const LinearAct = definePattern({
  name: 'LinearAct',
  root: activation(linearLayer()),
  qdqPoints: [QdqPoint.INPUT],
  weights: linearWeights,
  description: 'Linear → activation (fused)',
});
