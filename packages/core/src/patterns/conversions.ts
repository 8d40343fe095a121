import { DataType } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import type { Value } from '../ir/value.js';
import { constant, input, op } from './dsl.js';
import { definePattern, type Pattern, type PatternMatch } from './pattern.js';
import { scaleChannels } from '../quantize/scale-channels.js';
import { sliceValues } from '../quantize/channel-chunks.js';

// Inference-time clean-ups every backend wants before it fuses: shared here so that
// backends (which never import each other) list them in their tables.

/** Identity nodes do nothing at inference (PyTorch emits them for shared parameters). */
export const RemoveIdentity = definePattern({
  name: 'RemoveIdentity',
  kind: 'conversion',
  root: op('Identity', [input()]),
  where: (m, g) => g.canBypass(m.anchor) || 'its output is a graph output fed straight from the graph interface',
  rewrite: (m, g) => void g.bypass(m.anchor),
});

/** Dropout is the identity at inference, when its mask is unused and training mode is off. */
export const RemoveDropout = definePattern({
  name: 'RemoveDropout',
  kind: 'conversion',
  root: op('Dropout', [input()], {
    where: (n) => {
      if (n.outputs[1]?.uses.length) return 'its mask output is used';
      const training = n.input(2)?.constant();
      if (training && training.toNumbers()[0]) return 'training_mode is true';
      return true;
    },
  }),
  where: (m, g) => g.canBypass(m.anchor) || 'its output is a graph output fed straight from the graph interface',
  rewrite: (m, g) => void g.bypass(m.anchor),
});

const bnParams = [constant('gamma'), constant('beta'), constant('mean'), constant('var')];
// A Constant node's output carries no type info in PyTorch exports: read the tensor's own type.
const isFloat = (v: Value) => (v.constant()?.dataType ?? v.elemType) === DataType.FLOAT;

/**
 * BatchNormalization after a Conv (or ConvTranspose, or Gemm) folds into its weights:
 * w' = w · γ/√(σ²+ε) per output channel, b' = (b − μ) · γ/√(σ²+ε) + β. Weights must be
 * folded before they are quantized, so this cannot be left to the runtime.
 */
export const FoldBatchNorm = definePattern({
  name: 'FoldBatchNorm',
  kind: 'conversion',
  root: op('BatchNormalization', [
    op(['Conv', 'ConvTranspose', 'Gemm'], [input('input'), constant('weight', (t) => t.dataType === DataType.FLOAT || 'weight is not float32')]).as('layer'),
    ...bnParams,
  ], { where: (n) => (n.attr('training_mode', 0) ? 'training_mode is set' : n.outputs.length > 1 && n.outputs.slice(1).some((o) => o.uses.length) ? 'running statistics outputs are used' : true) }).as('bn'),
  where: (m) => {
    const layer = m.captured.layer!;
    const bias = layer.input(2);
    if (bias && (!bias.constant() || !isFloat(bias))) return 'the layer bias is not a float constant';
    if (layer.opType === 'Gemm' && layer.attr('transA', 0)) return 'Gemm with transA cannot be folded';
    return ['gamma', 'beta', 'mean', 'var'].every((r) => isFloat(m.roles[r]!)) || 'BatchNormalization parameters are not float32';
  },
  rewrite: (m, g) => foldBatchNorm(m, g),
});

function foldBatchNorm(m: PatternMatch, g: Graph): void {
  const layer = m.captured.layer!;
  const bn = m.captured.bn!;
  const eps = bn.attr('epsilon', 1e-5);
  const [gamma, beta, mean, variance] = ['gamma', 'beta', 'mean', 'var'].map((r) => m.roles[r]!.constant()!.toFloat32()) as [Float32Array, Float32Array, Float32Array, Float32Array];
  const channels = gamma.length;
  const scale = new Float32Array(channels);
  for (let c = 0; c < channels; c++) scale[c] = gamma[c]! / Math.sqrt(variance[c]! + eps);

  const wT = m.roles.weight!.constant()!;
  const dims = wT.dims;
  // Which weight axis indexes the output channel, and the stride pattern to walk it.
  let axis = 0;
  if (layer.opType === 'ConvTranspose') axis = 1;
  if (layer.opType === 'Gemm') axis = layer.attr('transB', 0) ? 0 : 1;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const perGroup = dims[axis]!;
  const groups = layer.opType === 'ConvTranspose' ? Number(layer.attr('group', 1)) : 1;
  if (perGroup * groups !== channels) throw new Error(`FoldBatchNorm: ${layer.describe()} has ${perGroup * groups} output channels but ${bn.describe()} has ${channels}`);
  const alpha = layer.opType === 'Gemm' ? layer.attr('alpha', 1.0) : 1;
  let folded: Tensor;
  if (groups === 1 && alpha === 1) {
    // Computed on first use: quantization reads the factors and never needs the product.
    folded = Tensor.scaled(wT, scale, inner);
  } else {
    const source = wT.toFloat32OrBytes();
    let w: Float32Array;
    if (groups === 1) {
      w = scaleChannels(source, scale, inner);
    } else {
      // ConvTranspose [Cin, Cout/group, …]: group g's input channels, a contiguous block, use its output channels' factors.
      w = new Float32Array(wT.size);
      const block = wT.size / groups;
      for (let g0 = 0; g0 < groups; g0++) {
        w.set(scaleChannels(sliceValues(source, g0 * block, (g0 + 1) * block), scale.subarray(g0 * perGroup, (g0 + 1) * perGroup), inner), g0 * block);
      }
    }
    if (alpha !== 1) for (let i = 0; i < w.length; i++) w[i] = w[i]! * alpha;
    folded = Tensor.fromArray(w, dims);
  }
  const bias = new Float32Array(channels);
  const oldBias = layer.input(2)?.constant()?.toFloat32();
  const betaGemm = layer.opType === 'Gemm' ? layer.attr('beta', 1.0) : 1;
  for (let c = 0; c < channels; c++) {
    const b0 = oldBias ? (oldBias.length === 1 ? oldBias[0]! : oldBias[c]!) * betaGemm : 0;
    bias[c] = (b0 - mean[c]!) * scale[c]! + beta[c]!;
  }
  if (layer.opType === 'Gemm') {
    layer.setAttr('alpha', { float: 1 });
    layer.setAttr('beta', { float: 1 });
  }
  const wName = g.uniqueName(`${m.roles.weight!.name}_bnfolded`);
  const bName = g.uniqueName(`${layer.input(2)?.name ?? `${layer.name || 'layer'}.bias`}_bnfolded`);
  layer.setInput(1, g.addInitializer(wName, folded));
  layer.setInput(2, g.addInitializer(bName, Tensor.fromArray(bias, [channels])));
  const out = bn.output(0);
  const layerOut = layer.output(0);
  if (g.outputs.includes(out)) {
    // Keep the model's output name: the layer now produces it directly.
    g.removeNode(bn);
    layer.setOutputs([out]);
    g.replaceAllUses(layerOut, out);
  } else {
    g.replaceAllUses(out, layerOut);
    g.removeNode(bn);
  }
  layerOut.type ??= out.type;
}

/**
 * The clean-ups every backend gets unless it opts out (`Backend.standardConversions:
 * false`): a backend table that forgets them would leave every BatchNorm unfolded.
 */
export const STANDARD_CONVERSIONS: readonly Pattern[] = Object.freeze([RemoveIdentity, RemoveDropout, FoldBatchNorm]);
