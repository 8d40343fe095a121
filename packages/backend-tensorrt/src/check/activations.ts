import type { Node, Use, Value } from '@qdeploy/core';
import { ACTIVATION_OPS, isOnnxOp } from './ops.js';
import type { QdqGraph } from './qdq-graph.js';

/** An activation found after a layer: one op, or a decomposed SiLU / GELU. */
export interface ActivationMatch {
  /** The op type, or "SiLU" / "GELU" for a decomposed one. */
  name: string;
  nodes: Node[];
  /** The node producing the activation's output. */
  end: Node;
}

const uniqueNodes = (uses: readonly Use[]) => [...new Set(uses.map((u) => u.node))];

/** The single reader of `v` (seen through a Q/DQ pair), or null. */
function soleReader(qdq: QdqGraph, v: Value): Node | null {
  if (qdq.isGraphOutput(v)) return null;
  const nodes = uniqueNodes(qdq.forward(v).uses);
  return nodes.length === 1 ? nodes[0]! : null;
}

const otherInput = (n: Node, v: Value, qdq: QdqGraph): Value | null => {
  const i = n.inputs.findIndex((x) => x && qdq.underlying(x) === v);
  return i < 0 ? null : n.input(1 - i);
};

const isConstOperand = (n: Node, v: Value, qdq: QdqGraph) => {
  const o = otherInput(n, v, qdq);
  return !!o && qdq.constSource(o) !== null;
};

/**
 * Matches the activation that reads `x` through `uses` (x's readers, possibly behind a
 * Q/DQ pair): a single activation op, SiLU as x·sigmoid(x), or GELU as exported before
 * opset 20 (0.5·x·(1+erf(x/√2)) in either multiplication order).
 */
export function matchActivation(qdq: QdqGraph, x: Value, uses: readonly Use[]): ActivationMatch | null {
  const nodes = uniqueNodes(uses);
  if (nodes.some((n) => !isOnnxOp(n))) return null;
  if (nodes.length === 1) {
    const n = nodes[0]!;
    if (!ACTIVATION_OPS.has(n.opType) || uses.length !== 1 || uses[0]!.index !== 0) return null;
    if ((n.opType === 'Clip' || n.opType === 'PRelu') && !n.inputs.slice(1).every((v) => !v || qdq.constSource(v))) return null;
    return { name: n.opType, nodes: [n], end: n };
  }
  if (nodes.length !== 2) return null;
  return matchSilu(qdq, x, nodes) ?? matchGeluErf(qdq, x, nodes);
}

function matchSilu(qdq: QdqGraph, x: Value, nodes: Node[]): ActivationMatch | null {
  const s = nodes.find((n) => n.opType === 'Sigmoid');
  const m = nodes.find((n) => n.opType === 'Mul');
  if (!s || !m) return null;
  const other = otherInput(m, x, qdq);
  if (!other || qdq.underlying(other) !== s.output(0)) return null;
  return { name: 'SiLU', nodes: [s, m], end: m };
}

function matchGeluErf(qdq: QdqGraph, x: Value, nodes: Node[]): ActivationMatch | null {
  // d = x / √2 (or x · 1/√2) → Erf → + 1 → f, with m the other reader of x.
  for (const d of nodes) {
    if ((d.opType !== 'Div' && d.opType !== 'Mul') || !isConstOperand(d, x, qdq)) continue;
    const m = nodes.find((n) => n !== d);
    if (!m || m.opType !== 'Mul') continue;
    const erf = soleReader(qdq, d.output(0));
    if (erf?.opType !== 'Erf') continue;
    const add = soleReader(qdq, erf.output(0));
    if (add?.opType !== 'Add' || !isConstOperand(add, erf.output(0), qdq)) continue;
    const f = soleReader(qdq, add.output(0));
    if (f?.opType !== 'Mul') continue;
    if (f === m) {
      // (x · (1 + erf)) · 0.5
      const half = soleReader(qdq, m.output(0));
      if (half?.opType === 'Mul' && isConstOperand(half, m.output(0), qdq)) return { name: 'GELU', nodes: [d, erf, add, m, half], end: half };
      return { name: 'GELU', nodes: [d, erf, add, m], end: m };
    }
    // (x · 0.5) · (1 + erf)
    if (isConstOperand(m, x, qdq) && soleReader(qdq, m.output(0)) === f) return { name: 'GELU', nodes: [d, erf, add, m, f], end: f };
  }
  return null;
}
