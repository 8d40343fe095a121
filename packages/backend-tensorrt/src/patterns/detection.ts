import { choice, definePattern, input, op, type Graph, type Node, type PatternMatch, type Value, QdqPoint } from '@qdeploy/core';
import { activation } from './activations.js';
import { isDepthwise } from './conv.js';

/**
 * What YOLO-style, FPN and U-Net exports add to a classifier: Concat, Split, MaxPool chains
 * (SPPF), nearest Resize, the bottleneck whose residual Add follows the activation, and
 * the head convs feeding the outputs. Most of these take no Q/DQ of their own; what they
 * need is that the Q/DQ around them carry one scale (`sharedScale`), so TensorRT can move
 * the Q/DQ across them or merge their tensors instead of leaving INT8↔FP16 reformats.
 */

const dataInputs = (n: Node): Value[] => n.inputs.filter((v): v is Value => v !== null && v.constant() === null);

/** Ops that produce CNN feature maps (not shape arithmetic, which Concat also joins). */
const FEATURE_OPS = new Set([
  'Conv', 'ConvTranspose', 'BatchNormalization', 'Relu', 'Clip', 'LeakyRelu', 'Sigmoid', 'Mul', 'Add', 'HardSwish', 'Elu',
  'MaxPool', 'AveragePool', 'Resize', 'Upsample', 'Split', 'Concat', 'DequantizeLinear',
]);

/** A channel-axis op (axis 1, NCHW) on feature maps: what detectors and U-Nets concatenate and split. */
const onFeatureMaps = (n: Node): true | string => {
  if (Number(n.attr('axis', n.opType === 'Split' ? 0 : 1)) !== 1) return 'not along the channel axis (1)';
  return dataInputs(n).some((v) => FEATURE_OPS.has(v.producer?.opType ?? '')) || 'no input is a feature map (a shape computation?)';
};
const inAndOut = (m: PatternMatch): Value[] => [...dataInputs(m.anchor).slice(0, 1), ...m.anchor.outputs];

/**
 * Concat: all inputs and the output share one scale.
 * Rule: TensorRT removes a Concat by writing its inputs into one buffer; with INT8 inputs
 * whose scales differ it must requantize each, so "the scale of Q&DQ of these tensors
 * [must be] the same" (NVIDIA yolo_deepstream, Guidance_of_QAT_performance_optimization.md;
 * its quantization/rules.py pairs the quantizers of every Concat input with the output's).
 * ModelOpt (`modelopt/onnx/quantization/graph_utils.py`, concat elimination) and PPQ
 * (`ppq/quantization/optim/refine.py`, the Concat alignment pass) do the same.
 * No Q/DQ of its own: the consumers' input Q moves back across the Concat.
 */
export const Concat = definePattern({
  name: 'Concat',
  root: op('Concat', [], { where: onFeatureMaps }).as('concat'),
  sharedScale: (m) => [...dataInputs(m.anchor), ...m.anchor.outputs],
  description: 'Concat: inputs and output share one scale (TensorRT concat elimination); no Q/DQ of its own',
});

/**
 * Split along channels (C2f, CSP blocks): the outputs inherit the producer's scale
 * (inferred: a split only selects elements, so a Q on an output is a Q on the input;
 * ModelOpt and PPQ pass scales through it unchanged). No Q/DQ of its own. Splits of
 * fused QKV projections (last axis) are left to the attention patterns.
 */
export const SplitSlice = definePattern({
  name: 'Split',
  root: op('Split', [input('input')], { where: onFeatureMaps }).as('split'),
  sharedScale: inAndOut,
  description: 'Split along channels: outputs share the input scale; no Q/DQ of their own',
});

/**
 * MaxPool (outside the stem): input and output share one scale.
 * Rule: MaxPool commutes with Q/DQ and has an INT8 kernel, so TensorRT moves the DQ
 * forward across it (NVIDIA TensorRT developer guide, "Q/DQ Layer-Placement
 * Recommendations"); the pooled tensor must then carry the input's scale or a requantize
 * stays (yolo_deepstream rules.py pairs a MaxPool's output Q with the Qs on its input).
 * An SPPF (three MaxPools into a Concat) becomes one group through Concat's rule.
 */
export const MaxPool = definePattern({
  name: 'MaxPool',
  root: op('MaxPool', [input('input')]).as('pool'),
  sharedScale: inAndOut,
  description: 'MaxPool (SPPF chains): input and output share one scale; runs INT8 between Q/DQ',
});

/**
 * Nearest Resize / Upsample: input and output share one scale (inferred: nearest
 * interpolation copies values, so it commutes with Q/DQ like MaxPool; TensorRT issue
 * #2976; PPQ treats it as scale-passing). Linear modes compute new values: not joined.
 */
export const NearestResize = definePattern({
  name: 'NearestResize',
  root: op(['Resize', 'Upsample'], [input('input')], { where: (n) => n.attr('mode', 'nearest') === 'nearest' || `mode "${String(n.attr('mode', ''))}" interpolates` }).as('resize'),
  sharedScale: inAndOut,
  description: 'nearest Resize / Upsample: input and output share one scale',
});

/** The producer of `v` is an activation TensorRT fuses into a conv (ReLU, SiLU as x·σ(x), ...). */
function isConvActivation(v: Value | null): boolean {
  const p = v?.producer;
  if (!p) return false;
  if (['Relu', 'Clip', 'LeakyRelu', 'Elu', 'HardSwish', 'HardSigmoid', 'Gelu'].includes(p.opType)) return true;
  return p.opType === 'Mul' && p.inputs.some((x) => x?.producer?.opType === 'Sigmoid');
}

/**
 * A residual Add that follows the activation (YOLOv5/v8 C3/C2f bottleneck:
 * x + SiLU(BN(Conv(...)))): both inputs quantized. TensorRT cannot fuse this Add into
 * the conv (its conv+add fusion needs the Add before the activation), so the Add runs as
 * its own element-wise layer; an element-wise Add "fuses with its input DQs and output Q"
 * (TensorRT developer guide, quantizable ops), so with both inputs quantized and the
 * next conv's input Q after it, it runs INT8 and the conv before it writes INT8.
 * yolo_deepstream's `QuantAdd` quantizes both inputs of these Adds for the same reason.
 */
export const ActivationAdd = definePattern({
  name: 'ActivationAdd',
  root: op('Add', [input('input', (v) => isConvActivation(v) || 'not an activation'), input('residual', (v) => v.constant() === null || 'a constant')], { commutative: true }).as('add'),
  qdqPoints: [QdqPoint.INPUT, QdqPoint.RESIDUAL_INPUT],
  description: 'Add(activation, skip) after the activation (YOLO bottleneck): both inputs quantized, the Add runs INT8',
});

/** Ops that only move or join data between a head conv and the model output. */
const LAYOUT_OPS = new Set(['Concat', 'Reshape', 'Transpose', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity']);

/** Whether everything `v` feeds is a model output, reached through layout ops only. */
export function feedsOnlyOutputs(v: Value, graph: Graph, depth = 4): boolean {
  if (v.uses.length === 0) return graph.outputs.includes(v);
  if (depth === 0) return false;
  return v.uses.every((u) => LAYOUT_OPS.has(u.node.opType) && u.node.outputs.every((o) => feedsOnlyOutputs(o, graph, depth - 1)));
}

const headConv = () => op(['Conv', 'ConvTranspose'], [input('input')], { where: (n) => !isDepthwise(n) || 'depthwise conv' }).as('conv');

/**
 * The convs whose outputs are the model's outputs (a detector's box / class / DFL maps):
 * kept float, no Q/DQ, float weights. Their values are the boxes and scores themselves;
 * NVIDIA's yolo_deepstream QAT leaves the Detect head's output convs out of quantization
 * (its default ignore policy) for accuracy, at a tiny share of the FLOPs.
 */
export const OutputConv = definePattern({
  name: 'OutputConv',
  root: choice(activation(headConv()), headConv()),
  where: (m, g) => feedsOnlyOutputs(m.anchor.output(0), g) || 'its output feeds more than model outputs (through layout ops)',
  description: 'Conv whose output is a model output (detection head): kept float',
});
