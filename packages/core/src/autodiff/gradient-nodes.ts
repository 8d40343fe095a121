import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { quantizedRange } from './quantized-range.js';
import { straightThroughNodes } from './straight-through.js';
import type { GradNode } from './types.js';

/** The op type of a QuantizeLinear → DequantizeLinear pair, differentiated as one. */
export const FAKE_QUANTIZE = 'FakeQuantize';

/**
 * The op type of Clip → QuantizeLinear → DequantizeLinear where the clip lies inside the
 * quantizer's integer range (so the clip alone decides what saturates): the sub-8-bit
 * fake quant in an 8-bit container, and QAT's fake quant at every width. Its gradient is
 * far cheaper than the three ops' own: the clip's mask is the STE's.
 */
export const CLIPPED_FAKE_QUANTIZE = 'ClippedFakeQuantize';

/**
 * The graph's nodes as the engine sees them, in graph order: a DequantizeLinear reading a
 * QuantizeLinear with the same scale, zero point and axis becomes one FakeQuantize
 * (inputs x, scale, zero point; attributes of the QuantizeLinear), or one
 * ClippedFakeQuantize with the Clip before it (see `clipInside`); a QuantizeLinear (and
 * such a Clip) read only by these disappears into them. `trainable`: the wrt values.
 * `straightThrough` (output → input): chains differentiated as dX = dY (straight-through.ts).
 */
export function gradientNodes(graph: Graph, trainable: ReadonlySet<Value> = new Set(), straightThrough: ReadonlyMap<string, string> = new Map()): GradNode[] {
  const chains = straightThroughNodes(graph, straightThrough);
  const absorbed = new Set<Node>(chains.absorbed);
  const pairs = new Map<Node, GradNode>(chains.nodes);
  const outputs = new Set(graph.outputs);
  for (const dq of graph.nodes) {
    if (dq.opType !== 'DequantizeLinear' || dq.domain !== '' || absorbed.has(dq) || chains.nodes.has(dq)) continue;
    const q = dq.input(0)?.producer;
    if (!q || q.opType !== 'QuantizeLinear' || q.domain !== '' || !samePair(q, dq)) continue;
    const name = dq.name || q.name || `FakeQuantize_${pairs.size}`;
    const clip = q.input(0)?.producer;
    if (clip && clipInside(clip, q, outputs, trainable)) {
      absorbed.add(clip);
      pairs.set(dq, { opType: CLIPPED_FAKE_QUANTIZE, name, node: q, inputs: [clip.input(0), ...q.inputs.slice(1)], outputs: dq.outputs, internal: [clip.output()] });
    } else {
      pairs.set(dq, { opType: FAKE_QUANTIZE, name, node: q, inputs: q.inputs, outputs: dq.outputs });
    }
  }
  for (const q of graph.nodes) {
    if (q.opType === 'QuantizeLinear' && !absorbed.has(q) && q.outputs[0]!.uses.length > 0 && q.outputs[0]!.consumers.every((c) => pairs.has(c)) && !outputs.has(q.outputs[0]!)) absorbed.add(q);
  }
  const out: GradNode[] = [];
  graph.nodes.forEach((n, i) => {
    if (absorbed.has(n)) return;
    out.push(pairs.get(n) ?? { opType: n.opType, name: n.name || `${n.opType}_${i}`, node: n, inputs: n.inputs, outputs: n.outputs });
  });
  return out;
}

/**
 * A Clip read only by the QuantizeLinear `q` (per tensor), whose bounds, in units of the
 * scale, lie inside the integer range: either constants with a constant, untrained scale,
 * or the scale times constants (a learned scale moves its clip with it, as in LSQ).
 */
function clipInside(clip: Node, q: Node, outputs: ReadonlySet<Value>, trainable: ReadonlySet<Value>): boolean {
  if (clip.opType !== 'Clip' || clip.domain !== '' || !clip.input(1) || !clip.input(2)) return false;
  const xc = clip.output();
  if (outputs.has(xc) || xc.consumers.some((c) => c !== q) || q.inputs.slice(1).includes(xc)) return false;
  const range = quantizedRange(q);
  const z = zeroPoint(q);
  if (!range || z === null) return false;
  const scale = q.input(1)!;
  const s = trainable.has(scale) ? null : scalarOf(scale);
  const units = (bound: Value): number | null => {
    const c = scalarOf(bound);
    if (c !== null) return s !== null && s > 0 ? c / s : null;
    const mul = bound.producer;
    if (!mul || mul.opType !== 'Mul' || mul.domain !== '' || bound.uses.length !== 1) return null;
    const [a, b] = [mul.input(0), mul.input(1)];
    if (a === scale) return b ? scalarOf(b) : null;
    if (b === scale) return a ? scalarOf(a) : null;
    return null;
  };
  const lo = units(clip.input(1)!);
  const hi = units(clip.input(2)!);
  // Rounding can reach half a step past a bound: the integer range must hold that too.
  return lo !== null && hi !== null && lo <= hi && Math.round(lo) + z >= range[0] && Math.round(hi) + z <= range[1];
}

/** The zero point as a number (0 without one); null when it is not one constant. */
function zeroPoint(q: Node): number | null {
  const z = q.input(2);
  if (!z) return 0;
  return scalarOf(z);
}

/** A constant holding one number, as a number. */
function scalarOf(v: Value): number | null {
  const t = v.constant();
  if (!t || t.size !== 1) return null;
  return Number(t.toNumbers()[0]);
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
