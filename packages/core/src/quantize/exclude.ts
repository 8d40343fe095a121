import type { PatternMatch } from '../patterns/pattern.js';

/**
 * Which matches stay in float (ModelOpt's nodes_to_exclude / op_types_to_exclude, plus
 * pattern names and single matches). An excluded match asks for no QuantStub and no
 * WeightFakeQuantize; a stub it shared with a match still quantized stays, feeding only
 * that match.
 */
export interface ExcludeRules {
  /** Node names: exact, or a regular expression (a RegExp, or a string written "/re/flags"). A match is excluded when any of its nodes is named so. */
  nodes?: readonly (string | RegExp)[];
  /** Op types: a match is excluded when any of its nodes has one of them (e.g. "Gemm"). */
  opTypes?: readonly string[];
  /** Pattern names (e.g. "ConvBNAdd"). */
  patterns?: readonly string[];
  /** Single matches: the objects transform() returned, or their ids (`matchId`). */
  matches?: readonly (PatternMatch | string)[];
}

export type ExcludeRuleKind = 'node' | 'opType' | 'pattern' | 'match';

/** Why a match was excluded: the first rule that caught it. */
export interface ExcludedMatch {
  match: PatternMatch;
  rule: { kind: ExcludeRuleKind; value: string; node?: string };
}

export interface ExclusionResult {
  kept: PatternMatch[];
  excluded: ExcludedMatch[];
  /** Rules that caught no match (usually a typo), as "kind value". */
  unused: string[];
}

/** A match's stable id: its anchor node's name (unique: no node is in two matches). */
export function matchId(m: PatternMatch): string {
  return m.anchor.name || `${m.pattern.name}@${m.anchor.opType}:${m.anchor.outputs[0]?.name ?? '?'}`;
}

/** "/re/flags" → RegExp; anything else is an exact name. */
export function nameMatcher(spec: string | RegExp): (name: string) => boolean {
  if (spec instanceof RegExp) return (n) => spec.test(n);
  const m = /^\/(.+)\/([dgimsuy]*)$/.exec(spec);
  if (!m) return (n) => n === spec;
  let re: RegExp;
  try {
    re = new RegExp(m[1]!, m[2]!.replace('g', ''));
  } catch (e) {
    throw new Error(`exclude: bad regular expression ${spec}: ${(e as Error).message}`);
  }
  return (n) => re.test(n);
}

function ruleText(spec: string | RegExp): string {
  return spec instanceof RegExp ? String(spec) : spec;
}

/** Splits matches into those kept and those excluded (with the rule that caught each). */
export function partitionMatches(matches: readonly PatternMatch[], rules: ExcludeRules = {}): ExclusionResult {
  const nodeRules = (rules.nodes ?? []).map((s) => ({ text: ruleText(s), test: nameMatcher(s) }));
  const opTypes = new Set(rules.opTypes ?? []);
  const patterns = new Set(rules.patterns ?? []);
  const byObject = new Set((rules.matches ?? []).filter((x): x is PatternMatch => typeof x !== 'string'));
  const byId = new Set((rules.matches ?? []).filter((x): x is string => typeof x === 'string'));
  const kept: PatternMatch[] = [];
  const excluded: ExcludedMatch[] = [];
  const why = (m: PatternMatch): ExcludedMatch['rule'] | null => {
    const id = matchId(m);
    if (byObject.has(m) || byId.has(id)) return { kind: 'match', value: id };
    if (patterns.has(m.pattern.name)) return { kind: 'pattern', value: m.pattern.name };
    for (const n of m.nodes) if (opTypes.has(n.opType)) return { kind: 'opType', value: n.opType, node: n.name };
    for (const r of nodeRules) for (const n of m.nodes) if (r.test(n.name)) return { kind: 'node', value: r.text, node: n.name };
    return null;
  };
  for (const m of matches) {
    const rule = why(m);
    if (!rule) {
      kept.push(m);
      continue;
    }
    excluded.push({ match: m, rule });
  }
  // A rule is used when it catches any match, even one an earlier rule already caught.
  const unused = [
    ...nodeRules.filter((r) => !matches.some((m) => m.nodes.some((n) => r.test(n.name)))).map((r) => `node ${r.text}`),
    ...[...opTypes].filter((t) => !matches.some((m) => m.nodes.some((n) => n.opType === t))).map((t) => `opType ${t}`),
    ...[...patterns].filter((p) => !matches.some((m) => m.pattern.name === p)).map((p) => `pattern ${p}`),
    ...[...byId].filter((id) => !matches.some((m) => matchId(m) === id)).map((id) => `match ${id}`),
  ];
  return { kept, excluded, unused };
}

/** True when the rules name anything. */
export function hasExcludeRules(r: ExcludeRules | undefined): boolean {
  return !!r && [r.nodes, r.opTypes, r.patterns, r.matches].some((x) => (x?.length ?? 0) > 0);
}
