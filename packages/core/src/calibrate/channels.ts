import type { Value } from '../ir/value.js';

/** Ops whose output has the layout and channel count of their first input. */
const SAME_CHANNELS = new Set([
  'Relu', 'Clip', 'LeakyRelu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Elu', 'Selu', 'Softplus',
  'Gelu', 'Mish', 'PRelu', 'Identity', 'Dropout', 'BatchNormalization', 'InstanceNormalization',
  'MaxPool', 'AveragePool', 'LpPool', 'GlobalAveragePool', 'GlobalMaxPool', 'Neg', 'Abs',
  'QuantizeLinear', 'DequantizeLinear', 'Log', 'Exp', 'Sqrt', 'Reciprocal', 'Erf', 'Floor', 'Ceil', 'Round', 'Softsign', 'ThresholdedRelu', 'Celu', 'Cast',
]);
/** Elementwise ops with broadcasting: the output has the channels of whichever input is 4-D. */
const BROADCASTING = new Set(['Add', 'Sub', 'Mul', 'Div', 'Sum', 'Max', 'Min']);

/**
 * The channel count C of a tensor known to be 4-D NCHW (N×C×H×W), or null when the graph
 * does not tell: from its declared shape, else from the nearest Conv upstream through
 * ops that keep channels (activations, BN, pooling, residual Adds). Calibration uses it
 * to reduce such tensors with GlobalMaxPool and a depthwise Conv, which onnxruntime runs
 * in its blocked NCHWc layout; ReduceMin/ReduceMax would force a copy back to NCHW.
 * `memo` caches the answer per value: pass one Map for many queries on one graph (a
 * value reached along several paths — x and sigmoid(x) of a SiLU — is walked once).
 */
export function channelsOf(v: Value, memo = new Map<Value, number | null>(), depth = 64): number | null {
  let c = memo.get(v);
  if (c === undefined) {
    c = walk(v, memo, depth);
    memo.set(v, c);
  }
  return c;
}

function walk(v: Value, memo: Map<Value, number | null>, depth: number): number | null {
  const shape = v.shape;
  if (shape) {
    if (shape.length !== 4) return null;
    const c = shape[1];
    if (typeof c === 'number' && c > 0) return c;
  }
  if (depth === 0) return null;
  const p = v.producer;
  if (!p || p.domain !== '') return null;
  const input = (i: number) => p.input(i);
  switch (p.opType) {
    case 'Conv': {
      const w = input(1)?.shape;
      return w && w.length === 4 && typeof w[0] === 'number' ? w[0] : null;
    }
    case 'ConvTranspose': {
      const w = input(1)?.shape;
      const group = Number(p.attr('group', 1));
      return w && w.length === 4 && typeof w[1] === 'number' ? w[1] * group : null;
    }
    case 'Concat': {
      if (Number(p.attr('axis', 0)) !== 1) return null;
      let total = 0;
      for (const x of p.inputs) {
        const c = x ? channelsOf(x, memo, depth - 1) : null;
        if (c === null) return null;
        total += c;
      }
      return total;
    }
  }
  if (SAME_CHANNELS.has(p.opType)) {
    const x = input(0);
    return x ? channelsOf(x, memo, depth - 1) : null;
  }
  if (BROADCASTING.has(p.opType)) {
    // Broadcasting: C is the largest channel count among the operands, so every operand
    // must be known (a 4-D one through the graph, a constant by its own shape).
    let c = 0;
    let fourD = false; // at least one operand is known to be 4-D, so the output is
    for (const x of p.inputs) {
      if (!x) continue;
      const constant = x.constant() !== null;
      const k = constant ? constantChannels(x) : channelsOf(x, memo, depth - 1);
      if (k === null) return null;
      fourD ||= !constant;
      c = Math.max(c, k);
    }
    return fourD && c > 0 ? c : null;
  }
  return null;
}

/** The size of a constant operand along the channel axis of a 4-D broadcast (shapes align right). */
function constantChannels(v: Value): number | null {
  const dims = v.constant()!.dims;
  if (dims.length > 4) return null;
  return dims.length >= 3 ? dims[dims.length - 3]! : 1;
}
