import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import { MatchState } from './dsl.js';
import type { Pattern, PatternMatch } from './pattern.js';

export type MatchOutcome = { ok: true; match: PatternMatch } | { ok: false; reason: string };

export interface MatchContext {
  graph: Graph;
  /** Nodes owned by other matches. */
  claimed?: ReadonlySet<Node>;
  /** Node → position in graph order (computed when absent). */
  order?: ReadonlyMap<Node, number>;
}

/**
 * Tries `pattern` with its root at `anchor`. A fusion group must be closed: no tensor
 * produced inside it, except the anchor's output, may be read outside it, or fusing
 * would change what those readers see.
 */
export function matchPattern(pattern: Pattern, anchor: Node, ctx: MatchContext): MatchOutcome {
  const s = new MatchState(ctx.claimed);
  const order = ctx.order ?? new Map(ctx.graph.nodes.map((n, i) => [n, i]));
  let match: PatternMatch | null = null;
  // Runs once the whole tree matched; failing here backtracks into other alternatives.
  const complete = (): boolean => {
    const inside = new Set(s.nodes);
    for (const n of s.nodes) {
      if (n === anchor) continue;
      for (const o of n.outputs) {
        if (ctx.graph.outputs.includes(o)) return s.fail(() => `${o.name} (from ${n.describe()}) is a graph output, so ${n.describe()} cannot be fused`);
        const outside = o.uses.find((u) => !inside.has(u.node));
        if (outside) return s.fail(() => `${o.name} (from ${n.describe()}) is also read by ${outside.node.describe()} outside the group`);
      }
    }
    const m: PatternMatch = {
      pattern,
      nodes: [...s.nodes].sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0)),
      anchor,
      roles: { ...Object.fromEntries(s.roles), output: anchor.output(0) },
      captured: Object.fromEntries(s.captured),
      qdqPoints: pattern.qdqPoints,
    };
    if (pattern.where) {
      const ok = pattern.where(m, ctx.graph);
      if (ok !== true) return s.fail(ok);
    }
    match = m;
    return true;
  };
  if (pattern.root.matchNode(anchor, s, complete) && match) return { ok: true, match };
  // A getter: callers that only test `ok` (transform, for every node and pattern) never build the sentence.
  return {
    ok: false,
    get reason() {
      return s.reason() ?? `${anchor.describe()} does not match`;
    },
  };
}

/** Why `pattern` does or does not match at `anchor`, in one sentence. */
export function explainMatch(pattern: Pattern, anchor: Node, graph: Graph): string {
  const r = matchPattern(pattern, anchor, { graph });
  return r.ok
    ? `${pattern.name} matches at ${anchor.describe()} (${r.match.nodes.map((n) => n.opType).join(' → ')})`
    : `${pattern.name} does not match at ${anchor.describe()}: ${r.reason}`;
}
