/** `qdeploy inspect`: what the backend's patterns make of a model, and the report as tables. */
import path from 'node:path';
import { printableName } from '../../util/printable.js';
import type { QuantSettings } from '../../config/types.js';
import { displayPath } from '../../config/load.js';
import { countMatches, transform } from '../../patterns/transform.js';
import type { PatternMatch } from '../../patterns/pattern.js';
import { insertQdq } from '../../quantize/insert-qdq.js';
import { matchId } from '../../quantize/exclude.js';
import { formatCounts, formatShape, table } from '../format.js';
import { byOpType, configuredPatterns, mergeQuantConfig, placementOptions, prepareBackend, type PipelineContext } from './context.js';
import { loadInputModel } from './model-files.js';

export interface InspectOptions extends PipelineContext {
  backend?: string;
  backendOptions?: Record<string, unknown>;
  quant?: QuantSettings;
  /** Also say, for each unmatched node, why each fusion pattern rooted at its op failed. */
  explain?: boolean;
}

export interface InspectReport {
  model: string;
  backend: string;
  nodes: { before: number; after: number };
  opCounts: Record<string, number>;
  opCountsAfter: Record<string, number>;
  conversions: Record<string, number>;
  /** Matches by pattern, with the QDQ points the pattern declares. */
  patterns: { pattern: string; count: number; qdqPoints: string[]; weights: boolean }[];
  matches: { pattern: string; anchor: string; nodes: string[]; qdqPoints: string[]; roles: Record<string, string> }[];
  quantStubs: { tensor: string; producer: string | null; shape: string; for: { pattern: string; anchor: string; role: string }[]; feeds: string[] }[];
  weightQuantizers: { tensor: string; shape: number[]; axis: number | null; channels: number; perChannel: boolean; for: { pattern: string; anchor: string; node: string }[] }[];
  unmatched: { byOpType: Record<string, number>; nodes: { name: string; opType: string }[] };
  counts: { QuantStub: number; WeightFakeQuantize: number };
  /** Matches kept in float by quant.exclude, and the rule that caught each. */
  excluded: { id: string; pattern: string; anchor: string; rule: { kind: string; value: string; node?: string } }[];
  /** Exclude rules that caught no match. */
  unusedExcludeRules: string[];
  /** With `explain`: why patterns did not match at unmatched nodes, one line each. */
  explanations?: string[];
}

function nodeName(n: { name: string; opType: string }): string {
  return n.name || `<${n.opType}>`;
}

/** What the backend's patterns make of a model: matches, QDQ placement, leftovers. */
export async function inspectModel(modelPath: string, options: InspectOptions = {}): Promise<InspectReport> {
  const backend = await prepareBackend(options.backend ?? 'tensorrt', options);
  const m = loadInputModel(modelPath);
  const explanations: string[] = [];
  const result = transform(m, {
    patterns: configuredPatterns(backend, options.backendOptions),
    debug: options.explain ? (line) => explanations.push(line) : undefined,
  });
  const q = insertQdq(result.model, result.matches, { config: mergeQuantConfig(backend.quantConfig, options.quant), ...placementOptions(options.quant) });
  const label = (mt: PatternMatch) => ({ pattern: mt.pattern.name, anchor: nodeName(mt.anchor) });

  const patterns: InspectReport['patterns'] = [];
  for (const [name, count] of Object.entries(countMatches(result.matches))) {
    const p = result.matches.find((x) => x.pattern.name === name)!.pattern;
    patterns.push({ pattern: name, count, qdqPoints: [...p.qdqPoints], weights: p.weights.length > 0 });
  }
  return {
    model: path.resolve(modelPath),
    backend: backend.name,
    nodes: { before: m.graph.nodes.length, after: result.model.graph.nodes.length },
    opCounts: m.graph.opCounts(),
    opCountsAfter: result.model.graph.opCounts(),
    conversions: result.conversions,
    patterns,
    matches: result.matches.map((mt) => ({
      ...label(mt),
      nodes: mt.nodes.map(nodeName),
      qdqPoints: [...mt.qdqPoints],
      roles: Object.fromEntries(Object.entries(mt.roles).map(([k, v]) => [k, v.name])),
    })),
    quantStubs: q.stubs().map((s) => ({
      tensor: s.tensor.name,
      producer: s.tensor.producer ? nodeName(s.tensor.producer) : null,
      shape: formatShape(s.tensor.shape),
      for: s.matches.map((mt) => ({
        ...label(mt),
        role: mt.qdqPoints.find((pt) => mt.roles[pt] === s.tensor) ?? '?',
      })),
      feeds: s.uses.map((u) => `${nodeName(u.node)}#${u.index}`),
    })),
    weightQuantizers: q.weightQuantizers().map((w) => ({
      tensor: w.tensor.name,
      shape: [...(w.tensor.constant()?.dims ?? [])],
      axis: w.axis,
      channels: w.scale.length,
      perChannel: w.axis !== null,
      for: w.matches.map((mt) => ({
        ...label(mt),
        node: nodeName(mt.nodes.find((n) => n.inputs.includes(w.tensor)) ?? mt.anchor),
      })),
    })),
    unmatched: { byOpType: byOpType(result.unmatched), nodes: result.unmatched.map((n) => ({ name: nodeName(n), opType: n.opType })) },
    counts: q.counts(),
    excluded: q.placement.excluded.map((e) => ({ id: matchId(e.match), ...label(e.match), rule: { ...e.rule } })),
    unusedExcludeRules: [...q.placement.unusedExcludeRules],
    ...(options.explain ? { explanations } : {}),
  };
}

function cut(s: string, n = 48): string {
  return s.length <= n ? s : `…${s.slice(s.length - n + 1)}`;
}

/** The inspect report as readable tables. */
export function formatInspectReport(r: InspectReport): string {
  const out: string[] = [];
  out.push(`${displayPath(r.model)}: ${r.nodes.before} nodes, backend ${r.backend}`);
  out.push('');
  out.push(`ops: ${formatCounts(r.opCounts)}`);
  out.push(
    `conversions: ${Object.keys(r.conversions).length ? formatCounts(r.conversions, ', ', ' ×') : 'none'}` +
      (r.nodes.after !== r.nodes.before ? ` → ${r.nodes.after} nodes: ${formatCounts(r.opCountsAfter)}` : ''),
  );
  out.push('');
  const total = r.patterns.reduce((a, p) => a + p.count, 0);
  out.push(`matches (${total})`);
  out.push(
    r.patterns.length
      ? table(
          r.patterns.map((p) => [p.pattern, p.count, p.qdqPoints.length ? p.qdqPoints.join(', ') : '— (runs in float)', p.weights ? 'yes' : 'no']),
          ['pattern', 'count', 'quantized inputs', 'weights'],
        )
      : '  none',
  );
  out.push('');
  if (r.excluded.length || r.unusedExcludeRules.length) {
    out.push(`excluded (${r.excluded.length}): matches kept in float, no Q/DQ of their own (a stub another match still needs stays)`);
    if (r.excluded.length) {
      out.push(table(r.excluded.map((e) => [e.pattern, cut(e.id, 40), `${e.rule.kind} ${e.rule.value}${e.rule.node && e.rule.node !== e.rule.value ? ` (node ${cut(e.rule.node, 32)})` : ''}`]), ['pattern', 'match (anchor)', 'rule']));
    }
    for (const u of r.unusedExcludeRules) out.push(`  warning: exclude rule "${u}" caught no match`);
    out.push('');
  }
  out.push(`QuantStub (${r.counts.QuantStub}): activation tensors that get Q→DQ, and the matches that asked`);
  out.push(
    r.quantStubs.length
      ? table(
          r.quantStubs.map((s) => [cut(s.tensor), s.producer ? cut(s.producer, 32) : '(graph input)', s.for.map((f) => `${f.pattern} ${f.role} @ ${cut(f.anchor, 40)}`).join('; ')]),
          ['tensor', 'produced by', 'for (pattern role @ anchor)'],
        )
      : '  none',
  );
  out.push('');
  out.push(`WeightFakeQuantize (${r.counts.WeightFakeQuantize}): weights quantized ahead of time`);
  out.push(
    r.weightQuantizers.length
      ? table(
          r.weightQuantizers.map((w) => [
            cut(w.tensor),
            formatShape(w.shape),
            w.axis === null ? 'tensor' : `axis ${w.axis}`,
            w.channels,
            w.for.map((f) => `${f.pattern} @ ${cut(f.node, 40)}`).join('; '),
          ]),
          ['weight', 'shape', 'scales', 'channels', 'for (pattern @ node)'],
        )
      : '  none',
  );
  out.push('');
  const un = r.unmatched.nodes.length;
  out.push(`unmatched (${un}): nodes no pattern claimed (they run as the backend decides, without Q/DQ)`);
  if (un) {
    out.push(
      table(
        Object.entries(r.unmatched.byOpType).map(([op, n]) => {
          const names = r.unmatched.nodes.filter((x) => x.opType === op).map((x) => x.name);
          return [op, n, names.slice(0, 4).join(', ') + (names.length > 4 ? `, … (${names.length - 4} more)` : '')];
        }),
        ['op', 'count', 'nodes'],
      ),
    );
  } else {
    out.push('  none');
  }
  if (r.explanations) {
    out.push('', `why (${r.explanations.length}): each fusion pattern ending in an unmatched node's op, and what stopped it`);
    out.push(...(r.explanations.length ? r.explanations.map((l) => `  ${printableName(l)}`) : ['  no fusion pattern ends in these ops']));
  }
  return out.join('\n');
}
