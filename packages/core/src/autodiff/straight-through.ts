import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import type { GradNode } from './types.js';

/** The op type of a computation whose gradient passes to its input unchanged (dX = dY). */
export const STRAIGHT_THROUGH = 'StraightThrough';

/**
 * Straight-through chains: for each `output → input` pair (GradientOptions.straightThrough),
 * the nodes between `input` and `output` become one StraightThrough node. Why: a weight's
 * fake quant on a grid scaled to its own max |w| clips nothing, so its straight-through
 * estimator passes the gradient whole, and differentiating the chain op by op (the mask's
 * compare, cast and multiply, the scale's divide and multiply) costs several passes over
 * every weight each step for a mask of ones. A pair whose chain has a value read outside
 * it (besides the output) is left to the ordinary rules.
 */
export function straightThroughNodes(graph: Graph, pairs: ReadonlyMap<string, string>): { nodes: Map<Node, GradNode>; absorbed: Set<Node> } {
  const nodes = new Map<Node, GradNode>();
  const absorbed = new Set<Node>();
  for (const [outName, inName] of pairs) {
    const out = graph.value(outName);
    const x = graph.value(inName);
    const last = out?.producer;
    if (!out || !x || !last) continue;
    const chain = between(x, out);
    const closed = [...chain].every((n) => n.outputs.every((o) => o === out || o.consumers.every((c) => chain.has(c))));
    if (!closed || chain.size === 0) continue;
    for (const n of chain) if (n !== last) absorbed.add(n); // `last` stands for the chain
    nodes.set(last, { opType: STRAIGHT_THROUGH, name: last.name || `${STRAIGHT_THROUGH}_${nodes.size}`, node: last, inputs: [x], outputs: [out] });
  }
  return { nodes, absorbed };
}

/** The nodes on some path from `x` to `out`: `out`'s ancestors that read `x` or one of them. */
function between(x: Value, out: Value): Set<Node> {
  const ancestors = new Set<Node>();
  const stack = [out.producer!];
  while (stack.length) {
    const n = stack.pop()!;
    if (ancestors.has(n)) continue;
    ancestors.add(n);
    for (const v of n.inputs) if (v && v !== x && v.producer) stack.push(v.producer);
  }
  const reached = new Set<Node>();
  const front = [...x.consumers];
  while (front.length) {
    const n = front.pop()!;
    if (reached.has(n) || !ancestors.has(n)) continue;
    reached.add(n);
    for (const o of n.outputs) front.push(...o.consumers);
  }
  return reached;
}
