import { bind, choice, constant, op, same, type NodeChoice, type ValuePattern } from '@qdeploy/core';

/**
 * Activations TensorRT fuses into the preceding Conv/Gemm, written the way exporters
 * emit them. Each takes the pattern of its input `x` and captures its last node as "act".
 */
export function activation(x: ValuePattern): NodeChoice {
  return choice(
    geluErf(x),
    silu(x),
    op('Relu', [x]).as('act'),
    // ReLU6 and general clipping, with constant bounds.
    op('Clip', [x], { where: (n) => n.inputs.slice(1).every((v) => !v || v.constant() !== null) || 'bounds are not constant' }).as('act'),
    op('LeakyRelu', [x]).as('act'),
    op('Elu', [x]).as('act'),
    op('HardSwish', [x]).as('act'),
    op('HardSigmoid', [x]).as('act'),
    op('Gelu', [x]).as('act'),
  );
}

/** SiLU / Swish as PyTorch exports it: x · sigmoid(x). */
export function silu(x: ValuePattern) {
  return op('Mul', [bind('preact', x), op('Sigmoid', [same('preact')])], { commutative: true }).as('act');
}

/**
 * GELU as exported before opset 20: 0.5 · x · (1 + erf(x / √2)), in both of the orders
 * exporters use: ((x · (1 + erf)) · 0.5) and ((x · 0.5) · (1 + erf)).
 */
export function geluErf(x: ValuePattern) {
  const onePlusErf = op('Add', [op('Erf', [op(['Div', 'Mul'], [same('preact'), constant()])]), constant()], { commutative: true });
  return choice(
    op('Mul', [op('Mul', [bind('preact', x), onePlusErf], { commutative: true }), constant()], { commutative: true }).as('act'),
    op('Mul', [op('Mul', [bind('preact', x), constant()], { commutative: true }), onePlusErf], { commutative: true }).as('act'),
  );
}
