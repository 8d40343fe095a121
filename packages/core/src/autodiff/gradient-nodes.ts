import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import type { GradNode } from './types.js';

/** The op type of a QuantizeLinear → DequantizeLinear pair, differentiated as one. */
export const FAKE_QUANTIZE = 'FakeQuantize';

/**
 * The graph's nodes as the engine sees them, in graph order: a DequantizeLinear reading a
 * QuantizeLinear with the same scale, zero point and axis becomes one FakeQuantize
 * (inputs x, scale, zero point; attributes of the QuantizeLinear); a QuantizeLinear read
 * only by such DequantizeLinears disappears into them.
 */
export function gradientNodes(graph: Graph): GradNode[] {
  const absorbed = new Set<Node>();
  const pairs = new Map<Node, GradNode>();
  for (const dq of graph.nodes) {
    if (dq.opType !== 'DequantizeLinear' || dq.domain !== '') continue;
    const q = dq.input(0)?.producer;
    if (!q || q.opType !== 'QuantizeLinear' || q.domain !== '' || !samePair(q, dq)) continue;
    pairs.set(dq, { opType: FAKE_QUANTIZE, name: dq.name || q.name || `FakeQuantize_${pairs.size}`, node: q, inputs: q.inputs, outputs: dq.outputs });
  }
  for (const q of graph.nodes) {
    if (q.opType === 'QuantizeLinear' && q.outputs[0]!.uses.length > 0 && q.outputs[0]!.consumers.every((c) => pairs.has(c)) && !graph.outputs.includes(q.outputs[0]!)) absorbed.add(q);
  }
  const out: GradNode[] = [];
  graph.nodes.forEach((n, i) => {
    if (absorbed.has(n)) return;
    out.push(pairs.get(n) ?? { opType: n.opType, name: n.name || `${n.opType}_${i}`, node: n, inputs: n.inputs, outputs: n.outputs });
  });
  return out;
}

function samePair(q: Node, dq: Node): boolean {
  return sameValue(q.input(1), dq.input(1)) && sameValue(q.input(2), dq.input(2)) && q.attr('axis', 1) === dq.attr('axis', 1);
}

/** The same value, or two constants holding the same data. */
function sameValue(a: Value | null, b: Value | null): boolean {
  if (a === b) return true;
  const ca = a?.constant();
  const cb = b?.constant();
  if (!ca || !cb || ca.dataType !== cb.dataType || ca.dims.join() !== cb.dims.join()) return false;
  const x = ca.data();
  const y = cb.data();
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
