import { DataType, type CheckFinding } from '@qdeploy/core';
import type { CheckContext } from '../context.js';
import { NEWER_TRT_QTYPES, qTypeName } from '../qdq-params.js';
import { finding, type CheckRule } from '../rule.js';

/** INT8 only: uint8 (asymmetric, onnxruntime's default) and wider integers are rejected. */
export const qdqTypeRule: CheckRule = {
  name: 'qdq-type',
  description: 'uint8 (asymmetric) or non-INT8 Q/DQ',
  run(ctx: CheckContext): CheckFinding[] {
    const out: CheckFinding[] = [];
    for (const unit of ctx.qdq.units()) {
      const type = unit.nodes.map((n) => ctx.qdq.params(n).type).find((t) => t !== null) ?? null;
      if (type === null || type === DataType.INT8) continue;
      const subject = `${unit.kind} quantizer "${ctx.label(unit.anchor)}"`;
      if (type === DataType.UINT8) {
        out.push(finding(ctx, 'error', 'uint8-qdq', unit.anchor,
          `${subject} is uint8 (asymmetric): TensorRT supports only signed symmetric INT8 (zero point 0); quantize to int8`));
      } else if (NEWER_TRT_QTYPES.has(type)) {
        out.push(finding(ctx, 'warning', 'non-int8-qdq', unit.anchor,
          `${subject} is ${qTypeName(type)}: only recent TensorRT releases read it, and these placement rules are INT8's`));
      } else {
        out.push(finding(ctx, 'error', 'unsupported-qdq-type', unit.anchor,
          `${subject} is ${qTypeName(type)}: TensorRT explicit quantization reads INT8 (FP8/INT4 on recent releases), not ${qTypeName(type)}`));
      }
    }
    return out;
  },
};
