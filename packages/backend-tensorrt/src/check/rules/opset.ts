import type { CheckFinding } from '@qdeploy/core';
import type { CheckContext } from '../context.js';
import { finding, type CheckRule } from '../rule.js';

/** QuantizeLinear / DequantizeLinear exist from opset 10; per-channel (`axis`) from opset 13. */
export const opsetRule: CheckRule = {
  name: 'opset',
  description: 'Q/DQ below opset 10; per-channel Q/DQ below opset 13',
  run(ctx: CheckContext): CheckFinding[] {
    const opset = ctx.opset;
    const units = ctx.qdq.units();
    if (opset === null || units.length === 0) return [];
    if (opset < 10) {
      return [finding(ctx, 'error', 'opset-too-old', null,
        `the model imports ONNX opset ${opset}, but QuantizeLinear / DequantizeLinear need opset 10 (13 for per-channel): re-export with opset_version>=13`)];
    }
    if (opset >= 13) return [];
    const out: CheckFinding[] = [];
    for (const unit of units) {
      const n = unit.nodes.find((m) => ctx.qdq.params(m).perChannel || ctx.qdq.params(m).hasAxisAttr);
      if (!n) continue;
      out.push(finding(ctx, 'error', 'per-channel-needs-opset-13', unit.anchor,
        `"${ctx.label(n)}" is per-channel${ctx.qdq.params(n).hasAxisAttr ? ' (axis attribute)' : ''} but the model imports opset ${opset}: per-channel Q/DQ needs opset 13; re-export with opset_version>=13`));
    }
    return out;
  },
};
