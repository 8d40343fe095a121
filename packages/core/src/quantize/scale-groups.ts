import type { Value } from '../ir/value.js';
import type { PatternMatch } from '../patterns/pattern.js';
import type { QuantStub } from './quant-stub.js';

/**
 * Activation quantizers that must carry one scale: the target merges their tensors or
 * moves Q/DQ across the ops between them only when the scales are equal (TensorRT's
 * Concat elimination, MaxPool commuting with Q/DQ). calibrate() calibrates a group
 * together — every member's observations in one calibrator, one amax for all.
 */
export interface ScaleGroup {
  readonly stubs: readonly QuantStub[];
  /** Every tensor joined (stubbed or not), in the order first seen. */
  readonly tensors: readonly Value[];
  /** `Pattern @ node` of each match whose sharedScale joined them. */
  readonly reasons: readonly string[];
}

/**
 * Joins the tensors each match's `pattern.sharedScale` names (transitively: a MaxPool
 * feeding a Concat makes one group of the SPPF) and returns the groups that hold two or
 * more stubs. A group of one stub needs nothing: a single Q already has one scale.
 */
export function scaleGroupsOf(matches: readonly PatternMatch[], stubs: readonly QuantStub[]): ScaleGroup[] {
  const parent = new Map<Value, Value>();
  const find = (v: Value): Value => {
    if (!parent.has(v)) parent.set(v, v);
    let r = v;
    while (parent.get(r) !== r) r = parent.get(r)!;
    parent.set(v, r);
    return r;
  };
  const reasons = new Map<Value, string[]>();
  for (const m of matches) {
    const joined = (m.pattern.sharedScale?.(m) ?? []).filter((v): v is Value => v !== null && v.constant() === null);
    if (joined.length < 2) continue;
    const first = find(joined[0]!);
    for (const v of joined.slice(1)) {
      const r = find(v);
      if (r !== first) parent.set(r, first);
    }
    const why = `${m.pattern.name} @ ${m.anchor.describe()}`;
    for (const v of joined) (reasons.get(v) ?? reasons.set(v, []).get(v)!).push(why);
  }
  const byRoot = new Map<Value, { stubs: QuantStub[]; tensors: Value[]; reasons: Set<string> }>();
  for (const v of parent.keys()) {
    const root = find(v);
    const g = byRoot.get(root) ?? byRoot.set(root, { stubs: [], tensors: [], reasons: new Set() }).get(root)!;
    g.tensors.push(v);
    for (const r of reasons.get(v) ?? []) g.reasons.add(r);
  }
  for (const s of stubs) if (parent.has(s.tensor)) byRoot.get(find(s.tensor))!.stubs.push(s);
  return [...byRoot.values()].filter((g) => g.stubs.length > 1).map((g) => ({ stubs: g.stubs, tensors: g.tensors, reasons: [...g.reasons] }));
}
