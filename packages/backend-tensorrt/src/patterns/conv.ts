import { choice, constant, convWeightAxis, definePattern, input, oneOf, op, type Node, QdqPoint } from '@qdeploy/core';
import { activation } from './activations.js';

const groups = (n: Node) => Number(n.attr('group', 1));
const weightDims = (n: Node) => n.input(1)?.constant()?.dims ?? [];

/** Depthwise: one input channel per group (memory-bound; TensorRT gains nothing from INT8). */
export function isDepthwise(n: Node): boolean {
  const g = groups(n);
  const d = weightDims(n);
  return n.opType === 'Conv' && g > 1 && d[1] === 1 && d[0] !== undefined && d[0] % g === 0;
}

/** Output-channel axis of a conv weight (core's: KCRS → 0, ConvTranspose CKRS → 1). */
export { convWeightAxis };

const denseConv = () =>
  op(['Conv', 'ConvTranspose'], [input('input'), constant('weight')], { where: (n) => !isDepthwise(n) || 'depthwise conv' }).as('conv');
const depthwiseConv = () => op('Conv', [input('input'), constant('weight')], { where: (n) => isDepthwise(n) || 'not depthwise' }).as('conv');
const bnParams = () => [constant(), constant(), constant(), constant()];
/** `conv` optionally followed by an (unfolded) BatchNormalization. */
const withBn = (conv: ReturnType<typeof denseConv>) => oneOf(op('BatchNormalization', [conv, ...bnParams()]).as('bn'), conv);

const convWeights = [{ role: 'weight', axis: convWeightAxis }];

/** The network's first conv on an RGB image, its BN and ReLU, and the MaxPool TensorRT fuses after it. */
export const Stem = definePattern({
  name: 'Stem',
  root: op('MaxPool', [
    op(['Relu', 'Clip'], [withBn(op('Conv', [input('input'), constant('weight', (t) => t.dims[1] === 3 || `${t.dims[1]} input channels, a stem has 3`)], { where: (n) => groups(n) === 1 || 'grouped' }).as('conv'))]).as('act'),
  ]).as('pool'),
  qdqPoints: [QdqPoint.INPUT],
  weights: convWeights,
  description: 'first conv on a 3-channel input → BN → ReLU → MaxPool',
});

/** Conv(+BN) + residual Add + activation: TensorRT fuses the Add into the conv when its skip input is INT8. */
export const ConvBNAddReLU = definePattern({
  name: 'ConvBNAddReLU',
  root: activation(op('Add', [withBn(denseConv()), input('residual')], { commutative: true }).as('add')),
  qdqPoints: [QdqPoint.INPUT, QdqPoint.RESIDUAL_INPUT],
  weights: convWeights,
  description: 'Conv → BN → Add(·, residual) → activation; both paths into the Add quantized',
});

/** The same residual fusion without a trailing activation (MobileNetV2's linear bottlenecks). */
export const ConvBNAdd = definePattern({
  name: 'ConvBNAdd',
  root: op('Add', [withBn(denseConv()), input('residual')], { commutative: true }).as('add'),
  qdqPoints: [QdqPoint.INPUT, QdqPoint.RESIDUAL_INPUT],
  weights: convWeights,
  description: 'Conv → BN → Add(·, residual); both paths into the Add quantized',
});

export const ConvBNReLU = definePattern({
  name: 'ConvBNReLU',
  root: activation(withBn(denseConv())),
  qdqPoints: [QdqPoint.INPUT],
  weights: convWeights,
  description: 'Conv → BN → activation (ReLU, ReLU6, LeakyReLU, ELU, SiLU, HardSwish, HardSigmoid, GELU)',
});

export const ConvBN = definePattern({
  name: 'ConvBN',
  root: choice(op('BatchNormalization', [denseConv(), ...bnParams()]).as('bn'), denseConv()),
  qdqPoints: [QdqPoint.INPUT],
  weights: convWeights,
  description: 'Conv → BN (BN usually folded already)',
});

/** Depthwise conv (+BN, +activation) stays in float: memory-bound, and INT8 forces reformats. */
export const DepthwiseConv = definePattern({
  name: 'DepthwiseConv',
  root: choice(activation(withBn(depthwiseConv())), op('BatchNormalization', [depthwiseConv(), ...bnParams()]).as('bn'), depthwiseConv()),
  description: 'depthwise Conv → BN → activation, left unquantized',
});

/** Average pooling: memory-bound, left in float. */
export const GlobalAveragePool = definePattern({
  name: 'GlobalAveragePool',
  root: op(['GlobalAveragePool', 'AveragePool']).as('pool'),
  description: 'global / average pooling, left unquantized',
});
