import type { Graph, Node, Tensor, Use, Value } from '@qdeploy/core';
import { DQ_COMMUTING_OPS, WEIGHT_PATH_OPS, isDequantize, isQuantize } from './ops.js';
import { readQdqParams, type QdqParams } from './qdq-params.js';

/**
 * One quantizer as it appears in a QDQ model: QuantizeLinear → DequantizeLinear on an
 * activation (or on a float weight), or an integer weight initializer → DequantizeLinear.
 * A Q read by several DQs (one per consumer, as some tools write them) gives one pair per DQ.
 */
export interface QdqPair {
  /** The QuantizeLinear, or null (integer initializer or integer graph input read by the DQ). */
  q: Node | null;
  dq: Node;
  /** The tensor quantized: the Q's float input, or the integer tensor the DQ reads. */
  source: Value;
  /** The DQ's (float) output. */
  output: Value;
  /** Weight when a constant lies behind it, else activation. */
  kind: 'activation' | 'weight';
  /** The constant behind a weight pair (float weight for Q→DQ, integer data for a bare DQ). */
  constant: Tensor | null;
}

/** A quantizer's nodes: a Q and the DQs reading it, or a lone DQ / Q. */
export interface QdqUnit {
  /** The node findings name: the Q, or the lone DQ. */
  anchor: Node;
  nodes: Node[];
  pairs: QdqPair[];
  kind: 'activation' | 'weight';
}

/** Consumers of a value, seen through the Q/DQ pair when the value only feeds quantizers. */
export interface ForwardView {
  uses: Use[];
  /** The pair crossed (the first, when a Q feeds several DQs), or null when none. */
  pair: QdqPair | null;
}

/**
 * The Q/DQ structure of a graph: every pair, what each DQ feeds, whether a constant lies
 * behind it, and the look-through helpers the rules share.
 */
export class QdqGraph {
  readonly pairs: QdqPair[] = [];
  readonly quantizeNodes: Node[];
  readonly dequantizeNodes: Node[];
  /** Q nodes no DQ reads (their integer output goes elsewhere). */
  readonly orphanQuantizeNodes: Node[];
  private readonly byDq = new Map<Node, QdqPair>();
  private readonly paramCache = new Map<Node, QdqParams>();

  constructor(readonly graph: Graph) {
    this.quantizeNodes = graph.nodes.filter(isQuantize);
    this.dequantizeNodes = graph.nodes.filter(isDequantize);
    for (const dq of this.dequantizeNodes) {
      const x = dq.input(0);
      if (!x) continue;
      const q = x.producer && isQuantize(x.producer) ? x.producer : null;
      const source = q ? q.input(0) : x;
      if (!source) continue;
      const constant = q ? this.constSource(source) : x.constant();
      const pair: QdqPair = { q, dq, source, output: dq.output(0), kind: constant ? 'weight' : 'activation', constant };
      this.pairs.push(pair);
      this.byDq.set(dq, pair);
    }
    const paired = new Set(this.pairs.map((p) => p.q).filter((q): q is Node => q !== null));
    this.orphanQuantizeNodes = this.quantizeNodes.filter((q) => !paired.has(q));
  }

  get activationPairs(): QdqPair[] {
    return this.pairs.filter((p) => p.kind === 'activation');
  }

  get weightPairs(): QdqPair[] {
    return this.pairs.filter((p) => p.kind === 'weight');
  }

  pairOf(dq: Node): QdqPair | undefined {
    return this.byDq.get(dq);
  }

  /** The pair whose DQ produces `v`, if any. */
  pairAt(v: Value | null | undefined): QdqPair | null {
    const p = v?.producer;
    return p ? this.byDq.get(p) ?? null : null;
  }

  /** Scale, zero point, type and axis of a Q or DQ node (a DQ takes its type from its Q when nothing else says). */
  params(n: Node): QdqParams {
    let p = this.paramCache.get(n);
    if (!p) {
      const pair = this.byDq.get(n);
      const hint = pair?.q ? this.params(pair.q).type : null;
      p = readQdqParams(n, hint);
      this.paramCache.set(n, p);
    }
    return p;
  }

  /**
   * The pair that quantizes input `index` of `node`: a DQ producing it, directly or behind
   * ops TensorRT moves the DQ through (Reshape, Transpose, MaxPool, ...).
   */
  inputPair(node: Node, index: number): QdqPair | null {
    let v = node.input(index);
    for (let hops = 0; v && hops < 32; hops++) {
      const p = v.producer;
      if (!p) return null;
      const pair = this.byDq.get(p);
      if (pair) return pair;
      if (!DQ_COMMUTING_OPS.has(p.opType)) return null;
      v = p.input(0);
    }
    return null;
  }

  /** The float tensor behind a dequantized value: DQ(Q(x)) → x, repeatedly. */
  underlying(v: Value): Value {
    let cur = v;
    for (let hops = 0; hops < 16; hops++) {
      const pair = this.pairAt(cur);
      if (!pair?.q) return cur;
      cur = pair.source;
    }
    return cur;
  }

  /** The pairs that quantize `v` (v → Q → DQ). */
  pairsOn(v: Value): QdqPair[] {
    return this.pairs.filter((p) => p.q !== null && p.source === v);
  }

  /**
   * Who reads `v`: its consumers, or — when every reader is a QuantizeLinear whose output
   * only DQs read — the readers of those DQs, with the pair crossed.
   */
  forward(v: Value): ForwardView {
    const uses = v.uses;
    if (uses.length === 0 || !uses.every((u) => u.index === 0 && isQuantize(u.node))) return { uses: [...uses], pair: null };
    const out: Use[] = [];
    let first: QdqPair | null = null;
    for (const q of new Set(uses.map((u) => u.node))) {
      const qOut = q.outputs[0];
      if (!qOut || qOut.uses.length === 0 || this.graph.outputs.includes(qOut)) return { uses: [...uses], pair: null };
      for (const u of qOut.uses) {
        const pair = u.index === 0 ? this.byDq.get(u.node) : undefined;
        if (!pair) return { uses: [...uses], pair: null };
        first ??= pair;
        out.push(...pair.output.uses);
      }
    }
    return { uses: out, pair: first };
  }

  /** Readers of `v`, looking forward through ops TensorRT moves a DQ across (Reshape, Transpose, ...). */
  readersThrough(v: Value): Use[] {
    const out: Use[] = [];
    const seen = new Set<Value>();
    const visit = (x: Value) => {
      if (seen.has(x) || seen.size > 256) return;
      seen.add(x);
      for (const u of x.uses) {
        if (u.index === 0 && DQ_COMMUTING_OPS.has(u.node.opType)) u.node.outputs.forEach(visit);
        else out.push(u);
      }
    };
    visit(v);
    return out;
  }

  /**
   * Quantizers grouped as one unit each: a Q with all the DQs reading it, or a lone DQ
   * (integer weight or integer input), or a Q that no DQ reads.
   */
  units(): QdqUnit[] {
    const units: QdqUnit[] = [];
    const byQ = new Map<Node, QdqUnit>();
    for (const p of this.pairs) {
      if (!p.q) {
        units.push({ anchor: p.dq, nodes: [p.dq], pairs: [p], kind: p.kind });
        continue;
      }
      let u = byQ.get(p.q);
      if (!u) {
        u = { anchor: p.q, nodes: [p.q], pairs: [], kind: p.kind };
        byQ.set(p.q, u);
        units.push(u);
      }
      u.nodes.push(p.dq);
      u.pairs.push(p);
    }
    for (const q of this.orphanQuantizeNodes) {
      units.push({ anchor: q, nodes: [q], pairs: [], kind: this.constSource(q.input(0)) ? 'weight' : 'activation' });
    }
    return units;
  }

  /** Whether `v` (or its dequantized copy) is read by a graph output. */
  isGraphOutput(v: Value): boolean {
    return this.graph.outputs.includes(v);
  }

  /**
   * The constant behind a value: an initializer or Constant, possibly behind Q/DQ nodes
   * and weight-path ops (Identity, Transpose, Reshape, ...). Null for computed tensors.
   */
  constSource(v: Value | null | undefined): Tensor | null {
    let cur = v ?? null;
    for (let hops = 0; cur && hops < 16; hops++) {
      const c = cur.constant();
      if (c) return c;
      const p = cur.producer;
      if (!p) return null;
      if (isQuantize(p) || isDequantize(p) || WEIGHT_PATH_OPS.has(p.opType)) cur = p.input(0);
      else return null;
    }
    return null;
  }

  /** The weight pair reaching a layer's weight input (DQ directly, or behind weight-path ops). */
  weightPair(node: Node, index: number): QdqPair | null {
    let v = node.input(index);
    for (let hops = 0; v && hops < 16; hops++) {
      const p = v.producer;
      if (!p) return null;
      const pair = this.byDq.get(p);
      if (pair) return pair;
      if (!WEIGHT_PATH_OPS.has(p.opType)) return null;
      v = p.input(0);
    }
    return null;
  }

  /** The ops between a weight DQ and its layer (e.g. a Transpose), in order from the DQ. */
  weightPath(node: Node, index: number): Node[] {
    const path: Node[] = [];
    let v = node.input(index);
    for (let hops = 0; v && hops < 16; hops++) {
      const p = v.producer;
      if (!p || this.byDq.has(p) || !WEIGHT_PATH_OPS.has(p.opType)) break;
      path.unshift(p);
      v = p.input(0);
    }
    return path;
  }
}
