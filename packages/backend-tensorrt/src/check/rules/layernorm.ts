import type { CheckFinding } from '@qdeploy/core';
import type { CheckContext } from '../context.js';
import { floatReadQdq } from '../output-qdq.js';
import { describe, finding, type CheckRule } from '../rule.js';

/**
 * LayerNorm runs in FP16/FP32 in TensorRT: a quantized input only adds an INT8→float
 * reformat, its γ/β must stay float, and a Q/DQ on its output pays off only when INT8
 * layers (the Q/K/V or MLP projections) read it.
 */
export const layerNormRule: CheckRule = {
  name: 'layernorm',
  description: 'quantized LayerNorm input or weights (op or decomposed form), LayerNorm output quantized for float readers',
  run(ctx: CheckContext): CheckFinding[] {
    const out: CheckFinding[] = [];
    for (const ln of ctx.layerNorms()) {
      const what = ln.decomposed ? `decomposed LayerNorm (starting at ${describe(ctx, ln.anchor)})` : describe(ctx, ln.anchor);
      const inPair = ln.inputUses.map((u) => ctx.qdq.inputPair(u.node, u.index)).find((p) => p);
      if (inPair) {
        const inner = ln.decomposed ? ln.nodes.slice(1).flatMap((n) => n.inputs.map((_, i) => ctx.qdq.inputPair(n, i))).filter((p) => p && p.kind === 'activation' && p !== inPair) : [];
        const innerNote = inner.length ? `, and ${new Set(inner).size} more Q/DQ sit inside it` : '';
        out.push(finding(ctx, 'warning', 'quantized-layernorm', ln.anchor,
          `${what} reads a dequantized INT8 tensor ("${inPair.source.name}")${innerNote}: TensorRT runs LayerNorm in FP16/FP32, so this only adds INT8↔float reformats and rounding error; leave its input unquantized`));
      }
      const wPair = ln.weightUses.map((u) => ctx.qdq.weightPair(u.node, u.index)).find((p) => p);
      if (wPair) {
        out.push(finding(ctx, 'warning', 'layernorm-weight-quantized', ln.anchor,
          `${what} has quantized scale/bias ("${wPair.source.name}"): LayerNorm runs in FP16, its weights should stay float`));
      }
      for (const f of floatReadQdq(ctx, ln.end.output(0))) {
        const readers = f.floatReaders.map((n) => describe(ctx, n)).concat(f.graphOutput ? ['a graph output'] : []);
        out.push(finding(ctx, 'warning', 'layernorm-output-quantized', f.pair.q ?? f.pair.dq,
          `output of ${what} is quantized but read as float by ${readers.join(', ')}: only Conv/Gemm/MatMul readers (the projections) gain from INT8 here; leave the other readers on the float tensor`));
      }
    }
    return out;
  },
};
