import type { Node, Use, Value } from '@qdeploy/core';
import { isOnnxOp } from './ops.js';
import { matchActivation } from './activations.js';
import type { Layer } from './layers.js';
import type { QdqPair } from './qdq-graph.js';
import type { CheckContext } from './context.js';

/** A step TensorRT fuses after a weighted layer: BN, bias Add, residual Add, activation. */
export type LinkKind = 'bn' | 'bias' | 'add' | 'act';

export interface ChainLink {
  kind: LinkKind;
  /** The link's ops (several for a decomposed activation). */
  nodes: Node[];
  /** The Q/DQ pair sitting between the previous step and this one (it breaks the fusion), or null. */
  via: QdqPair | null;
  /** The node before this link. */
  from: Node;
  /** What the link is called in messages (op type, or "SiLU" / "GELU" for a decomposed activation). */
  name: string;
}

/** A layer and what follows it that TensorRT would fuse into it, Q/DQ or not. */
export interface FusionChain {
  layer: Layer;
  links: ChainLink[];
}

const RANK: Record<LinkKind, number> = { bn: 1, bias: 2, add: 3, act: 4 };

function otherIsConstant(n: Node, index: number, ctx: CheckContext): boolean {
  const o = n.input(1 - index);
  return !!o && ctx.qdq.constSource(o) !== null;
}

function nextLink(layer: Layer, v: Value, from: Node, rank: number, ctx: CheckContext): ChainLink | null {
  if (ctx.graph.outputs.includes(v)) return null;
  const { uses, pair } = ctx.qdq.forward(v);
  const nodes = [...new Set(uses.map((u: Use) => u.node))];
  if (nodes.length === 1 && uses.length === 1 && isOnnxOp(nodes[0]!)) {
    const n = nodes[0]!;
    const idx = uses[0]!.index;
    if (n.opType === 'BatchNormalization' && idx === 0 && rank < RANK.bn && n.inputs.slice(1, 5).every((x) => x && ctx.qdq.constSource(x))) {
      return { kind: 'bn', nodes: [n], via: pair, from, name: n.opType };
    }
    if (n.opType === 'Add' && n.inputs.length === 2 && (idx === 0 || idx === 1)) {
      if (otherIsConstant(n, idx, ctx)) return rank < RANK.bias ? { kind: 'bias', nodes: [n], via: pair, from, name: 'bias Add' } : null;
      if (layer.kind !== 'conv' || rank >= RANK.add) return null;
      const r = ctx.residual(n);
      return r && r.convIndex === idx ? { kind: 'add', nodes: [n], via: pair, from, name: 'residual Add' } : null;
    }
  }
  if (rank >= RANK.act) return null;
  const act = matchActivation(ctx.qdq, v, uses);
  return act ? { kind: 'act', nodes: act.nodes, via: pair, from, name: act.name } : null;
}

/**
 * Follows a layer's output forward through what TensorRT fuses after a Conv / Gemm —
 * BN, bias Add, residual Add (conv branch only), then one activation — looking through
 * Q/DQ pairs, which are recorded on the link they precede.
 */
export function fusionChain(layer: Layer, ctx: CheckContext): FusionChain {
  const links: ChainLink[] = [];
  let from = layer.node;
  let rank = 0;
  for (;;) {
    const v = from.outputs[0];
    if (!v) break;
    const link = nextLink(layer, v, from, rank, ctx);
    if (!link) break;
    links.push(link);
    rank = RANK[link.kind];
    from = link.nodes[link.nodes.length - 1]!;
    if (link.kind === 'act') break;
  }
  return { layer, links };
}
