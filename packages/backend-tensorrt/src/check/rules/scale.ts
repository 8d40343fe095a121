import type { CheckFinding } from '@qdeploy/core';
import type { CheckContext } from '../context.js';
import { finding, type CheckRule } from '../rule.js';

const sameValues = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

/** Scales must be constant, positive and finite; a Q and its DQ should agree. */
export const scaleRule: CheckRule = {
  name: 'scale',
  description: 'non-constant, non-positive or non-finite scales; Q and DQ with different scales',
  run(ctx: CheckContext): CheckFinding[] {
    const out: CheckFinding[] = [];
    for (const unit of ctx.qdq.units()) {
      const dynamic = unit.nodes.filter((n) => !ctx.qdq.params(n).scaleConstant);
      if (dynamic.length) {
        out.push(finding(ctx, 'error', 'non-constant-scale', unit.anchor,
          `${dynamic.map((n) => `"${ctx.label(n)}"`).join(', ')}: the scale is computed at run time; TensorRT needs constant scales`));
      }
      const bad: number[] = [];
      for (const n of unit.nodes) for (const s of ctx.qdq.params(n).scale ?? []) if (!(s > 0 && Number.isFinite(s))) bad.push(s);
      if (bad.length) {
        out.push(finding(ctx, 'error', 'bad-scale', unit.anchor,
          `${bad.length} scale value(s) not positive and finite (e.g. ${bad.slice(0, 3).join(', ')}) on "${ctx.label(unit.anchor)}": TensorRT needs positive FP32 scales (an all-zero channel still needs a positive scale)`));
      }
      if (unit.anchor.opType === 'QuantizeLinear') {
        const qs = ctx.qdq.params(unit.anchor).scale;
        const differ = unit.pairs.filter((p) => {
          const ds = ctx.qdq.params(p.dq).scale;
          return qs && ds && !sameValues(qs, ds);
        });
        if (differ.length) {
          out.push(finding(ctx, 'warning', 'qdq-scale-mismatch', unit.anchor,
            `"${ctx.label(unit.anchor)}" and its DequantizeLinear ${differ.map((p) => `"${ctx.label(p.dq)}"`).join(', ')} use different scales: the pair is not a fake quantizer, TensorRT will rescale`));
        }
      }
    }
    return out;
  },
};
