import type { Node } from '@qdeploy/core';
import type { Layer } from './layers.js';
import { DQ_COMMUTING_OPS } from './ops.js';
import type { FusionChain } from './chain.js';
import type { QdqPair } from './qdq-graph.js';
import type { CheckContext } from './context.js';

/** How TensorRT will run one weighted layer of a QDQ model. */
export interface LayerPlacement {
  layer: Layer;
  /** Q/DQ on the activation input (through ops TensorRT moves DQ across), or null. */
  dataPair: QdqPair | null;
  /** DQ on the weight, or null. */
  weightPair: QdqPair | null;
  /** INT8 input and INT8 weight: TensorRT runs the layer as an INT8 kernel. */
  int8: boolean;
  chain: FusionChain;
  /** The layer and the ops TensorRT fuses into it (up to the first Q/DQ, or an Add whose skip is not INT8). */
  members: Node[];
  /** The fused group's output is quantized (a Q is fused into it). */
  outputInt8: boolean;
}

/** Data/weight quantization of a layer and the group TensorRT fuses around it. */
export function layerPlacement(layer: Layer, ctx: CheckContext): LayerPlacement {
  const dataPair = ctx.qdq.inputPair(layer.node, layer.dataIndex);
  const weightPair = ctx.qdq.weightPair(layer.node, layer.weightIndex);
  const chain = ctx.chain(layer);
  const members: Node[] = [layer.node];
  let outputInt8 = false;
  let open = true;
  for (const link of chain.links) {
    if (link.via) {
      outputInt8 = true;
      open = false;
      break;
    }
    if (link.kind === 'add' && !ctx.residual(link.nodes[0]!)?.skipPair) {
      open = false;
      break;
    }
    members.push(...link.nodes);
  }
  if (open) {
    // A Q after MaxPool / Reshape-like ops moves backward into the group (TensorRT's Q propagation).
    let tail = members[members.length - 1]!.outputs[0];
    for (let hops = 0; tail && hops < 8 && tail.uses.length === 1 && !ctx.graph.outputs.includes(tail); hops++) {
      const u = tail.uses[0]!;
      if (u.index !== 0 || !DQ_COMMUTING_OPS.has(u.node.opType) || u.node.outputs.length !== 1) break;
      tail = u.node.outputs[0];
    }
    outputInt8 = !!tail && !ctx.graph.outputs.includes(tail) && ctx.qdq.forward(tail).pair !== null;
  }
  return { layer, dataPair, weightPair, int8: !!dataPair && !!weightPair, chain, members, outputInt8 };
}
