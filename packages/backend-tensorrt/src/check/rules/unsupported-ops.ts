import type { CheckFinding } from '@qdeploy/core';
import type { CheckContext } from '../context.js';
import { INTEGER_OPS, isDequantize, isQuantize } from '../ops.js';
import { describe, finding, type CheckRule } from '../rule.js';

/** TensorRT's explicit quantization is QuantizeLinear / DequantizeLinear of the ONNX domain, nothing else. */
export const unsupportedOpsRule: CheckRule = {
  name: 'unsupported-ops',
  description: 'QLinearConv / ConvInteger / MatMulInteger-style ops; Q/DQ of the com.microsoft domain',
  run(ctx: CheckContext): CheckFinding[] {
    const out: CheckFinding[] = [];
    for (const n of ctx.graph.nodes) {
      if (INTEGER_OPS.has(n.opType)) {
        out.push(finding(ctx, 'error', 'integer-op', n,
          `${describe(ctx, n)}${n.domain ? ` (${n.domain})` : ''}: TensorRT rejects integer operators; express quantization as QuantizeLinear / DequantizeLinear around float ops (QDQ format)`));
      } else if ((isQuantize(n) || isDequantize(n)) && n.domain === 'com.microsoft') {
        out.push(finding(ctx, 'error', 'non-standard-qdq', n,
          `${describe(ctx, n)} is onnxruntime's com.microsoft variant: TensorRT reads only the standard ONNX QuantizeLinear / DequantizeLinear`));
      }
    }
    return out;
  },
};
