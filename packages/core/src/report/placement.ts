import type { PatternMatch } from '../patterns/pattern.js';
import { matchId } from '../quantize/exclude.js';
import type { QuantizedModel } from '../quantize/quantized-model.js';

/** How a match runs in a placement: the label a report shows and its precision class. */
export interface MatchPrecision {
  id: string;
  pattern: string;
  /** "W8A8", "W4A4", "float (excluded: opType Gemm)", "float" (a pattern without Q/DQ). */
  label: string;
  kind: 'low' | 'int8' | 'float' | 'excluded';
}

/** Each match's precision in a placement. */
export function matchPrecisions(qm: QuantizedModel): Map<PatternMatch, MatchPrecision> {
  const out = new Map<PatternMatch, MatchPrecision>();
  const excluded = new Map(qm.placement.excluded.map((e) => [e.match, e.rule]));
  for (const m of qm.matches) {
    const base = { id: matchId(m), pattern: m.pattern.name };
    const rule = excluded.get(m);
    if (rule) {
      out.set(m, { ...base, label: `float (excluded: ${rule.kind} ${rule.value})`, kind: 'excluded' });
      continue;
    }
    const qs = qm.quantizersOf(m).filter((q) => q.enabled);
    if (qs.length === 0) {
      out.set(m, { ...base, label: 'float', kind: 'float' });
      continue;
    }
    const bits = (kind: string) => Math.max(0, ...qs.filter((q) => q.kind === kind).map((q) => q.config.nBits));
    const w = bits('WeightFakeQuantize'), a = bits('QuantStub');
    const label = `${w ? `W${w}` : 'W-'}${a ? `A${a}` : 'A-'}`;
    out.set(m, { ...base, label, kind: Math.max(w, a) < 8 ? 'low' : 'int8' });
  }
  return out;
}
