import { choice, constant, convWeightAxis, definePattern, input, linearWeightAxis, op, same, type Node, QdqPoint } from '@qdeploy/core';
import { isFloatActivation } from './dtype.js';

/**
 * The reference backend's fusions: each group is quantized on EVERY input and on its
 * output, because onnxruntime's CPU provider only replaces DQ → op → Q with a QLinear*
 * kernel when all of the op's activation inputs come from DequantizeLinear and its
 * output goes to QuantizeLinear (see ../../README.md). The output point of a group and
 * the input point of the group that consumes it name the same tensor, so they share one
 * QuantStub (one scale) and the consumer's pattern rewires its read to the DQ.
 */

/** Output-channel axis of a Conv weight (core's: KCRS → 0). */
export { convWeightAxis };

/** A float tensor computed at run time (not an initializer, a Constant, or an integer shape computation). */
const activation = (role: string) => input(role, isFloatActivation);

/**
 * A 2-D Conv with a constant weight (any group count: onnxruntime has int8 depthwise
 * kernels, so depthwise convs are quantized too, unlike on TensorRT).
 */
const conv = () => op('Conv', [activation('input'), constant('weight'), constant('bias')]).as('conv');
const convNoBias = () => op('Conv', [activation('input'), constant('weight')], { where: (n) => (n.input(2) ? 'its bias is not a constant' : true) }).as('conv');
const anyConv = () => choice(conv(), convNoBias());

/**
 * Activations onnxruntime removes in front of a QuantizeLinear whose range already
 * clips (ReluQuantFusion, ClipQuantFusion): with asymmetric uint8 activations a ReLU's
 * output range starts at 0, so the zero point is 0 and the Relu is redundant.
 */
const clipBoundsConstant = (n: Node) => n.inputs.slice(1).every((v) => !v || v.constant() !== null) || 'bounds are not constant';
export function removableActivation(x: ReturnType<typeof anyConv>) {
  return choice(op('Relu', [x]).as('act'), op('Clip', [x], { where: clipBoundsConstant }).as('act'));
}

const convWeights = [{ role: 'weight', axis: convWeightAxis }];

/** Conv → ReLU / ReLU6: QLinearConv once onnxruntime drops the activation into the output quantizer. */
export const QConvAct = definePattern({
  name: 'QConvAct',
  root: removableActivation(anyConv()),
  qdqPoints: [QdqPoint.INPUT, QdqPoint.OUTPUT],
  weights: convWeights,
  description: 'Conv → Relu/Clip; input and output quantized (QLinearConv)',
});

/** Conv without a foldable activation (residual branch, linear bottleneck, shortcut). */
export const QConv = definePattern({
  name: 'QConv',
  root: anyConv(),
  qdqPoints: [QdqPoint.INPUT, QdqPoint.OUTPUT],
  weights: convWeights,
  description: 'Conv; input and output quantized (QLinearConv)',
});

/**
 * Add of two activations (a residual join), with an optional trailing ReLU: QLinearAdd.
 * Mul of two activations is left in float: in SiLU, GELU and attention it sits inside a
 * nonlinearity, where quantizing costs accuracy for little speed.
 */
const binary = () => op('Add', [activation('input'), activation('residual')]).as('add');
export const QAddAct = definePattern({
  name: 'QAddAct',
  root: op('Relu', [binary()]).as('act'),
  qdqPoints: [QdqPoint.INPUT, QdqPoint.RESIDUAL_INPUT, QdqPoint.OUTPUT],
  description: 'Add(a, b) → Relu; both inputs and the output quantized (QLinearAdd, Relu folded)',
});

export const QAdd = definePattern({
  name: 'QAdd',
  root: binary(),
  qdqPoints: [QdqPoint.INPUT, QdqPoint.RESIDUAL_INPUT, QdqPoint.OUTPUT],
  description: 'Add(a, b); both inputs and the output quantized (QLinearAdd)',
});

/** Pooling and the unary ops onnxruntime has QLinear kernels for. */
export const QUnary = definePattern({
  name: 'QUnary',
  root: op(['GlobalAveragePool', 'AveragePool', 'LeakyRelu', 'Sigmoid'], [activation('input')]).as('op'),
  qdqPoints: [QdqPoint.INPUT, QdqPoint.OUTPUT],
  description: 'GlobalAveragePool / AveragePool / LeakyRelu / Sigmoid; input and output quantized (QLinear* contrib kernels)',
});

/**
 * Activations onnxruntime has no integer kernel for (SiLU as x·σ(x), HardSwish, GELU,
 * ...): they run in float between a DQ and a Q, which costs two cheap conversions but
 * lets the Conv before them and the op after them run as integer kernels (a Conv whose
 * output is also read in float is not fused).
 */
export const FloatActivation = definePattern({
  name: 'FloatActivation',
  root: choice(
    op('Mul', [activation('input'), op('Sigmoid', [same('input')]).as('sigmoid')], { commutative: true }).as('act'),
    op(['HardSwish', 'HardSigmoid', 'Gelu', 'Tanh', 'Elu', 'Selu', 'Softplus', 'Mish', 'Erf'], [activation('input')]).as('act'),
  ),
  qdqPoints: [QdqPoint.INPUT, QdqPoint.OUTPUT],
  description: 'SiLU / HardSwish / GELU / ...: float between DQ and Q, so its neighbours fuse',
});

/**
 * Data movement: onnxruntime deletes a DQ → op → Q pair when both sides use the same
 * scale and zero point, so the op runs on uint8 directly. The output holds the same
 * values as the input (MaxPool: the same extremes), so calibration gives the same range.
 */
export const QDataMovement = definePattern({
  name: 'QDataMovement',
  root: op(['Flatten', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'MaxPool'], [activation('input')], {
    where: (n) => (n.outputs.length > 1 && n.outputs.slice(1).some((o) => o.uses.length) ? 'a second output is used' : true),
  }).as('op'),
  qdqPoints: [QdqPoint.INPUT, QdqPoint.OUTPUT],
  description: 'Flatten / Reshape / Transpose / Squeeze / Unsqueeze / MaxPool; runs on uint8 (Q/DQ dropped)',
});

/** Output-channel axis of a Linear weight (core's: Gemm transB=1 → 0, else 1; MatMul → last). */
export { linearWeightAxis };

const gemm = () =>
  op('Gemm', [activation('input'), constant('weight')], {
    where: (n) => (n.attr('transA', 0) ? 'transA is set' : n.input(2) && !n.input(2)!.constant() ? 'C is not a constant' : true),
  }).as('linear');
const matmul = () => op('MatMul', [activation('input'), constant('weight', (t) => t.dims.length === 2 || 'weight is not a matrix')]).as('linear');
const linearWeights = [{ role: 'weight', axis: linearWeightAxis }];

/**
 * Gemm / MatMul with a constant weight: QGemm / MatMulIntegerToFloat. The output stays
 * float (usually the logits); a quantized consumer adds its own input quantizer.
 */
export const QLinear = definePattern({
  name: 'QLinear',
  root: choice(gemm(), matmul()),
  qdqPoints: [QdqPoint.INPUT],
  weights: linearWeights,
  description: 'Gemm / MatMul with a constant weight; input quantized, float output (QGemm / MatMulIntegerToFloat)',
});

/** Linear → ReLU: quantized output too, so the ReLU folds into the output quantizer. */
export const QLinearAct = definePattern({
  name: 'QLinearAct',
  root: choice(op('Relu', [choice(gemm(), matmul())]).as('act'), op('Clip', [choice(gemm(), matmul())], { where: clipBoundsConstant }).as('act')),
  qdqPoints: [QdqPoint.INPUT, QdqPoint.OUTPUT],
  weights: linearWeights,
  description: 'Gemm / MatMul → Relu/Clip; input and output quantized (QGemm, activation dropped)',
});
