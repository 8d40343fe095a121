import type { Node, Value } from '@qdeploy/core';
import { INT8_CONSUMER_OPS } from './ops.js';
import type { QdqPair } from './qdq-graph.js';
import type { CheckContext } from './context.js';

/** A Q/DQ on a tensor whose readers include ops that do not consume INT8. */
export interface FloatReadQdq {
  pair: QdqPair;
  /** Readers of the dequantized tensor (through Reshape/Transpose-like ops) that are not Conv/Gemm/MatMul. */
  floatReaders: Node[];
  /** The dequantized tensor is a graph output. */
  graphOutput: boolean;
}

/**
 * The Q/DQ pairs on `v` that feed something other than an INT8-capable layer: such a Q/DQ
 * only forces an INT8→float reformat (and rounding) where it is read as float.
 */
export function floatReadQdq(ctx: CheckContext, v: Value): FloatReadQdq[] {
  const out: FloatReadQdq[] = [];
  for (const pair of ctx.qdq.pairsOn(v)) {
    const readers = ctx.qdq.readersThrough(pair.output).map((u) => u.node);
    const floatReaders = [...new Set(readers.filter((n) => !INT8_CONSUMER_OPS.has(n.opType)))];
    const graphOutput = ctx.graph.outputs.includes(pair.output);
    if (floatReaders.length || graphOutput) out.push({ pair, floatReaders, graphOutput });
  }
  return out;
}
