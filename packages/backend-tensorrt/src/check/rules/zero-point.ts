import type { CheckFinding } from '@qdeploy/core';
import type { CheckContext } from '../context.js';
import { finding, type CheckRule } from '../rule.js';

/** TensorRT's INT8 is symmetric: every zero point must be 0 (and should be stated, as int8). */
export const zeroPointRule: CheckRule = {
  name: 'zero-point',
  description: 'non-zero zero points; zero point omitted (ONNX then means uint8)',
  run(ctx: CheckContext): CheckFinding[] {
    const out: CheckFinding[] = [];
    for (const unit of ctx.qdq.units()) {
      const names = unit.nodes.map((n) => `"${ctx.label(n)}"`).join(', ');
      const nonZero = unit.nodes.flatMap((n) => ctx.qdq.params(n).zeroPoint ?? []).filter((z) => z !== 0);
      if (nonZero.length) {
        const values = [...new Set(nonZero)].slice(0, 4).join(', ');
        out.push(finding(ctx, 'error', 'nonzero-zero-point', unit.anchor,
          `zero point ${values} on ${names}: TensorRT supports only symmetric quantization, the zero point must be 0`));
      }
      const missing = unit.nodes.filter((n) => {
        const p = ctx.qdq.params(n);
        return !p.zeroPointGiven && p.type === null;
      });
      if (missing.length) {
        out.push(finding(ctx, 'warning', 'missing-zero-point', unit.anchor,
          `${missing.map((n) => `"${ctx.label(n)}"`).join(', ')} state no zero point: ONNX then means uint8 (onnxruntime runs it asymmetric) while TensorRT assumes int8; give an int8 zero point of 0`));
      }
    }
    return out;
  },
};
