import type { Node, Value } from '@qdeploy/core';
import { isOnnxOp } from './ops.js';
import type { Layer } from './layers.js';
import type { QdqPair } from './qdq-graph.js';
import type { CheckContext } from './context.js';

/** The path from a conv to one input of an Add: through BN / bias Add, maybe through Q/DQ pairs. */
export interface ConvBranch {
  layer: Layer;
  /** BN / bias nodes between the conv and the Add. */
  nodes: Node[];
  /** Q/DQ pairs on the path (any one stops TensorRT fusing the Add into the conv). */
  pairs: QdqPair[];
  /** Every tensor on the path has the next op as its only reader (a fusion needs that). */
  exclusive: boolean;
}

/**
 * A residual Add as TensorRT sees it: the conv branch it can fuse into a conv (Conv →
 * BN → Add(·, skip) → ReLU) and the skip input, which should arrive as INT8 (a DQ).
 */
export interface ResidualAdd {
  add: Node;
  convIndex: number;
  skipIndex: number;
  branch: ConvBranch;
  /** The Q/DQ quantizing the skip input (through Reshape/MaxPool-like ops), or null. */
  skipPair: QdqPair | null;
  /** The conv branch has no Q/DQ and no other reader: TensorRT can fuse the Add into its conv. */
  fusable: boolean;
}

/** Walks back from `v` to the conv producing it (through BN, a bias Add and Q/DQ pairs). */
function convBehind(v: Value, ctx: CheckContext): ConvBranch | null {
  const nodes: Node[] = [];
  const pairs: QdqPair[] = [];
  let exclusive = true;
  let cur = v;
  for (let hops = 0; hops < 16; hops++) {
    const pair = ctx.qdq.pairAt(cur);
    if (pair) {
      if (!pair.q || pair.kind !== 'activation') return null;
      pairs.push(pair);
      cur = pair.source;
      continue;
    }
    if (cur.uses.length !== 1 || ctx.graph.outputs.includes(cur)) exclusive = false;
    const p = cur.producer;
    if (!p || !isOnnxOp(p) || p.outputs[0] !== cur) return null;
    const layer = ctx.layerOf(p);
    if (layer) return layer.kind === 'conv' ? { layer, nodes, pairs, exclusive } : null;
    if (p.opType === 'BatchNormalization') {
      nodes.unshift(p);
      cur = p.input(0)!;
    } else if (p.opType === 'Add' && p.inputs.length === 2) {
      const k = p.inputs.findIndex((x) => x && ctx.qdq.constSource(x));
      if (k < 0) return null;
      nodes.unshift(p);
      cur = p.input(1 - k)!;
    } else {
      return null;
    }
    if (!cur) return null;
  }
  return null;
}

/** Whether `target` is computed before `from` (reachable walking producers backwards). */
function isAncestor(target: Value, from: Value, limit = 4096): boolean {
  const seen = new Set<Value>();
  const stack = [from];
  while (stack.length && seen.size < limit) {
    const v = stack.pop()!;
    if (v === target) return true;
    if (seen.has(v)) continue;
    seen.add(v);
    for (const x of v.producer?.inputs ?? []) if (x && !seen.has(x)) stack.push(x);
  }
  return false;
}

/**
 * Of two convs both feeding the Add, the one on the block's main path: its input is
 * computed from the other conv's input (ResNet's conv2 vs the downsample shortcut).
 */
function mainBranch(a: ConvBranch, b: ConvBranch, ctx: CheckContext): 0 | 1 {
  const inA = a.layer.node.input(a.layer.dataIndex);
  const inB = b.layer.node.input(b.layer.dataIndex);
  if (!inA || !inB) return 0;
  const ua = ctx.qdq.underlying(inA), ub = ctx.qdq.underlying(inB);
  if (ua === ub) return 0;
  if (isAncestor(ua, inB)) return 1;
  if (isAncestor(ub, inA)) return 0;
  return 0;
}

/**
 * Classifies an Add of two computed tensors where at least one comes from a Conv (through
 * BN). The conv branch is the one TensorRT can fuse (no Q/DQ, single reader); when
 * neither or both can be fused, the block's main path (see mainBranch).
 */
export function analyzeResidual(add: Node, ctx: CheckContext): ResidualAdd | null {
  if (add.opType !== 'Add' || !isOnnxOp(add) || add.inputs.length !== 2) return null;
  const ins = [add.input(0), add.input(1)];
  if (ins.some((v) => !v || ctx.qdq.constSource(v))) return null;
  const branches = ins.map((v) => convBehind(v!, ctx));
  const fusable = [0, 1].filter((i) => branches[i] && branches[i]!.pairs.length === 0 && branches[i]!.exclusive);
  let convIndex: number;
  if (fusable.length === 1) {
    convIndex = fusable[0]!;
  } else {
    const cands = fusable.length === 2 ? [0, 1] : [0, 1].filter((i) => branches[i]);
    if (cands.length === 0) return null;
    convIndex = cands.length === 1 ? cands[0]! : mainBranch(branches[0]!, branches[1]!, ctx);
  }
  const skipIndex = 1 - convIndex;
  const branch = branches[convIndex]!;
  return {
    add,
    convIndex,
    skipIndex,
    branch,
    skipPair: ctx.qdq.inputPair(add, skipIndex),
    fusable: branch.pairs.length === 0 && branch.exclusive,
  };
}
