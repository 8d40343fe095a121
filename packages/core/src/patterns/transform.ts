import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import { matchPattern } from './matcher.js';
import type { Pattern, PatternMatch } from './pattern.js';

export interface TransformOptions {
  patterns: readonly Pattern[];
  /** Log why patterns fail on nodes left unmatched (true: console.error; or a sink). */
  debug?: boolean | ((line: string) => void);
  /** Safety bound on conversion rounds. */
  maxConversionRounds?: number;
}

export interface TransformResult {
  /** A new model (the input is not mutated): conversions applied, nodes in order. */
  model: Model;
  /** Fusion matches in graph order. */
  matches: PatternMatch[];
  /** How many times each conversion fired. */
  conversions: Record<string, number>;
  /** Compute nodes no fusion claimed (Constant nodes are data, not listed). */
  unmatched: Node[];
}

/**
 * Step 1 of the pipeline: conversions rewrite the graph until nothing more matches,
 * then fusions claim groups in one pass, longest first, never sharing a node.
 */
export function transform(input: Model, options: TransformOptions): TransformResult {
  const model = input.clone();
  const g = model.graph;
  const conversions = options.patterns.filter((p) => p.kind === 'conversion');
  const fusions = options.patterns.filter((p) => p.kind === 'fusion');
  const fired: Record<string, number> = {};

  const maxRounds = options.maxConversionRounds ?? 50;
  for (let round = 0; ; round++) {
    if (round >= maxRounds) throw new Error(`transform: conversions still rewriting after ${maxRounds} rounds (a conversion undoes another?)`);
    let changed = false;
    for (const pattern of conversions) {
      const claimed = new Set<Node>();
      const found: PatternMatch[] = [];
      const order = new Map(g.nodes.map((n, i) => [n, i]));
      for (const node of g.nodes) {
        if (!pattern.root.opTypes.includes(node.opType)) continue;
        const r = matchPattern(pattern, node, { graph: g, claimed, order });
        if (!r.ok) continue;
        r.match.nodes.forEach((n) => claimed.add(n));
        found.push(r.match);
      }
      for (const m of found) pattern.rewrite!(m, g);
      if (found.length) {
        fired[pattern.name] = (fired[pattern.name] ?? 0) + found.length;
        g.cleanup().toposort();
        changed = true;
      }
    }
    if (!changed) break;
  }

  // Fusions: gather every candidate, then accept longest first (ties: table order, then graph order).
  const order = new Map(g.nodes.map((n, i) => [n, i]));
  const candidates: { m: PatternMatch; p: number }[] = [];
  for (const node of g.nodes) {
    fusions.forEach((pattern, p) => {
      if (!pattern.root.opTypes.includes(node.opType)) return;
      const r = matchPattern(pattern, node, { graph: g, order });
      if (r.ok) candidates.push({ m: r.match, p });
    });
  }
  candidates.sort((a, b) => b.m.nodes.length - a.m.nodes.length || a.p - b.p || order.get(a.m.anchor)! - order.get(b.m.anchor)!);
  const claimed = new Set<Node>();
  const matches: PatternMatch[] = [];
  for (const { m } of candidates) {
    if (m.nodes.some((n) => claimed.has(n))) continue;
    m.nodes.forEach((n) => claimed.add(n));
    matches.push(m);
  }
  matches.sort((a, b) => order.get(a.anchor)! - order.get(b.anchor)!);
  const unmatched = g.nodes.filter((n) => !claimed.has(n) && !(n.opType === 'Constant' && n.domain === ''));

  if (options.debug) {
    const log = typeof options.debug === 'function' ? options.debug : (l: string) => console.error(`[qdeploy] ${l}`);
    for (const node of unmatched) {
      for (const pattern of fusions) {
        if (!pattern.root.opTypes.includes(node.opType)) continue;
        const r = matchPattern(pattern, node, { graph: g, claimed, order });
        if (!r.ok) log(`${pattern.name} not at ${node.describe()}: ${r.reason}`);
      }
    }
  }
  return { model, matches, conversions: fired, unmatched };
}

/** Matches grouped by pattern name, in table order. */
export function countMatches(matches: readonly PatternMatch[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const m of matches) c[m.pattern.name] = (c[m.pattern.name] ?? 0) + 1;
  return c;
}
