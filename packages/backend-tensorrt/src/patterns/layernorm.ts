import { bind, choice, constant, definePattern, input, oneOf, op, same, type NodePattern } from '@qdeploy/core';

/**
 * LayerNorm runs in FP16 in TensorRT: no Q/DQ around it and its weights are never
 * quantized (the pattern declares no weights, and core's default `skipWeightQuantFor`
 * names LayerNormalization too). Claiming it as a group documents that, and keeps other
 * patterns off its Mul/Add nodes.
 */

const scalar = (want: number) => constant(null, (t) => (t.size === 1 && Math.abs(t.toNumbers()[0]! - want) < 1e-6) || `not the constant ${want}`);

/** x − mean(x), bound as "centered". */
const centered = () => bind('centered', op('Sub', [input('input'), op('ReduceMean', [same('input')]).as('mean')]).as('sub'));

/** √(mean((x − μ)²) + ε). */
const std = () =>
  op('Sqrt', [
    op('Add', [
      op('ReduceMean', [oneOf(op('Pow', [same('centered'), scalar(2)]).as('square'), op('Mul', [same('centered'), same('centered')]).as('square'))]).as('variance'),
      constant('epsilon'),
    ], { commutative: true }).as('addEps'),
  ]).as('sqrt');

/** (x − μ) / σ, written as Div or as Mul by Reciprocal. */
const normalized = (): NodePattern[] => [
  op('Div', [centered(), std()]).as('div'),
  op('Mul', [centered(), op('Reciprocal', [std()]).as('reciprocal')], { commutative: true }).as('div'),
];

/** The decomposition older opsets export, with the optional affine part (· γ, + β). */
function decomposed(): NodePattern[] {
  const norm = () => oneOf(...normalized());
  const gamma = () => op('Mul', [norm(), constant('scale')], { commutative: true }).as('gamma');
  return [
    op('Add', [oneOf(gamma(), norm()), constant('bias')], { commutative: true }).as('beta'),
    gamma(),
    ...normalized(),
  ];
}

export const LayerNorm = definePattern({
  name: 'LayerNorm',
  root: choice(op('LayerNormalization', [input('input')]).as('norm'), ...decomposed()),
  description: 'LayerNormalization, or its ReduceMean/Sub/Pow/Sqrt/Div decomposition (+ affine): float, weights never quantized',
});
