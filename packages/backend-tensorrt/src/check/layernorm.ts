import type { Node, Use, Value } from '@qdeploy/core';
import { isOnnxOp } from './ops.js';
import type { QdqGraph } from './qdq-graph.js';

/** A LayerNorm site: the LayerNormalization op, or its decomposed form (ReduceMean, Sub, Pow, ..., Div, Mul, Add). */
export interface LayerNormSite {
  /** The first node (the LayerNormalization, or the first ReduceMean). */
  anchor: Node;
  nodes: Node[];
  decomposed: boolean;
  /** Where the normalised input is read: (node, input index) pairs. */
  inputUses: Use[];
  /** The node producing the normalised (and scaled / shifted) output. */
  end: Node;
  /** Scale and bias operands (the γ / β inputs). */
  weightUses: Use[];
}

function readers(qdq: QdqGraph, v: Value): Use[] {
  return qdq.isGraphOutput(v) ? [] : qdq.forward(v).uses;
}

function soleReader(qdq: QdqGraph, v: Value, op: string | string[]): Node | null {
  const ops = Array.isArray(op) ? op : [op];
  const nodes = [...new Set(readers(qdq, v).map((u) => u.node))];
  return nodes.length === 1 && ops.includes(nodes[0]!.opType) && isOnnxOp(nodes[0]!) ? nodes[0]! : null;
}

/** Input index at which `n` reads (a dequantized copy of) `v`, or -1. */
function indexOf(qdq: QdqGraph, n: Node, v: Value): number {
  return n.inputs.findIndex((x) => x && qdq.underlying(x) === v);
}

/** Operand index of `n` that is a constant, or -1. */
function constIndex(qdq: QdqGraph, n: Node): number {
  return n.inputs.findIndex((x) => x && qdq.constSource(x) !== null);
}

/**
 * Matches x → ReduceMean → Sub(x, mean) = d → Pow(d, 2) | Mul(d, d) → ReduceMean → Add(ε)
 * → Sqrt → Div(d, ·) → [Mul(γ)] → [Add(β)], seeing through Q/DQ pairs anywhere inside.
 */
function matchDecomposed(qdq: QdqGraph, r1: Node): LayerNormSite | null {
  const xIn = r1.input(0);
  if (!xIn) return null;
  const x = qdq.underlying(xIn);
  const mean = r1.output(0);
  const sub = readers(qdq, mean).map((u) => u.node).find((n) => n.opType === 'Sub' && indexOf(qdq, n, mean) === 1 && n.input(0) && qdq.underlying(n.input(0)!) === x);
  if (!sub) return null;
  const d = sub.output(0);
  const dReaders = [...new Set(readers(qdq, d).map((u) => u.node))];
  const sq = dReaders.find((n) => n.opType === 'Pow' || (n.opType === 'Mul' && n.inputs.every((v) => v && qdq.underlying(v) === d)));
  const div = dReaders.find((n) => n.opType === 'Div' && indexOf(qdq, n, d) === 0);
  if (!sq || !div || dReaders.length !== 2) return null;
  const r2 = soleReader(qdq, sq.output(0), 'ReduceMean');
  if (!r2) return null;
  let cur = r2;
  const nodes = [r1, sub, sq, r2];
  const eps = soleReader(qdq, cur.output(0), 'Add');
  if (eps) {
    nodes.push(eps);
    cur = eps;
  }
  const sqrt = soleReader(qdq, cur.output(0), 'Sqrt');
  if (!sqrt || soleReader(qdq, sqrt.output(0), 'Div') !== div) return null;
  nodes.push(sqrt, div);
  let end = div;
  const weightUses: Use[] = [];
  const gamma = soleReader(qdq, div.output(0), 'Mul');
  if (gamma && constIndex(qdq, gamma) >= 0) {
    nodes.push(gamma);
    weightUses.push({ node: gamma, index: constIndex(qdq, gamma) });
    end = gamma;
  }
  const beta = soleReader(qdq, end.output(0), 'Add');
  if (beta && constIndex(qdq, beta) >= 0) {
    nodes.push(beta);
    weightUses.push({ node: beta, index: constIndex(qdq, beta) });
    end = beta;
  }
  return {
    anchor: r1,
    nodes,
    decomposed: true,
    inputUses: [{ node: r1, index: 0 }, { node: sub, index: 0 }],
    end,
    weightUses,
  };
}

/** Every LayerNorm of the graph, as an op or decomposed. */
export function findLayerNorms(qdq: QdqGraph): LayerNormSite[] {
  const out: LayerNormSite[] = [];
  const claimed = new Set<Node>();
  for (const n of qdq.graph.nodes) {
    if (!isOnnxOp(n) || claimed.has(n)) continue;
    if (n.opType === 'LayerNormalization') {
      out.push({
        anchor: n,
        nodes: [n],
        decomposed: false,
        inputUses: [{ node: n, index: 0 }],
        end: n,
        weightUses: [1, 2].filter((i) => n.input(i)).map((index) => ({ node: n, index })),
      });
    } else if (n.opType === 'ReduceMean') {
      const ln = matchDecomposed(qdq, n);
      if (ln) {
        ln.nodes.forEach((m) => claimed.add(m));
        out.push(ln);
      }
    }
  }
  return out;
}
