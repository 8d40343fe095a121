import { DataType } from '../ir/dtype.js';
import type { Node } from '../ir/node.js';

/** A QuantizeLinear's output type: its zero point's type, else its output_dtype, else uint8. */
export function quantizedType(q: Node): number {
  return q.input(2)?.elemType ?? q.attr('output_dtype', DataType.UINT8) ?? DataType.UINT8;
}

/** [qmin, qmax] of a QuantizeLinear's output type (quantizedType); null for a type that is not an integer. */
export function quantizedRange(q: Node): [number, number] | null {
  switch (quantizedType(q)) {
    case DataType.INT8: return [-128, 127];
    case DataType.UINT8: return [0, 255];
    case DataType.INT16: return [-32768, 32767];
    case DataType.UINT16: return [0, 65535];
    case 22: return [-8, 7]; // INT4
    case 21: return [0, 15]; // UINT4
    default: return null;
  }
}
