import { DataType, type Node, type Tensor } from '@qdeploy/core';

/** What one QuantizeLinear / DequantizeLinear node quantizes with. */
export interface QdqParams {
  /** Scale values (float32), or null when the scale is not a constant. */
  scale: Float32Array | null;
  /** Whether the node has a scale input that is a constant. */
  scaleConstant: boolean;
  /** Zero point values, or null when absent or not constant. */
  zeroPoint: number[] | null;
  /** Whether a zero-point input is given at all (ONNX then defaults to uint8, zero 0). */
  zeroPointGiven: boolean;
  /** The quantized element type (TensorProto.DataType), null when nothing states it. */
  type: number | null;
  /** Per-axis (a 1-D scale with more than one element) rather than per-tensor. */
  perChannel: boolean;
  /** Whether the node carries an `axis` attribute (opset 13+). */
  hasAxisAttr: boolean;
  /** The quantization axis when per-channel, normalised to be non-negative when the rank is known. */
  axis: number | null;
}

/** Rank of a Q/DQ node's data input, when known. */
function dataRank(n: Node): number | null {
  const x = n.input(0);
  if (!x) return null;
  const c = x.constant();
  if (c) return c.dims.length;
  return x.shape?.length ?? null;
}

/**
 * Reads a Q or DQ node's scale, zero point, element type and axis. `typeHint` gives the
 * type for a DQ whose input type is otherwise unknown (the paired Q's type).
 */
export function readQdqParams(n: Node, typeHint: number | null = null): QdqParams {
  const scaleT: Tensor | null = n.input(1)?.constant() ?? null;
  const zpV = n.input(2);
  const zpT = zpV?.constant() ?? null;
  const scale = scaleT ? scaleT.toFloat32() : null;
  const perChannel = !!scaleT && scaleT.dims.length >= 1 && scaleT.size > 1;
  const hasAxisAttr = n.attributes.has('axis');
  let axis: number | null = null;
  if (perChannel) {
    axis = Number(n.attr('axis', 1)); // ONNX default axis is 1
    const rank = dataRank(n);
    if (axis < 0 && rank !== null) axis += rank;
  }
  let type: number | null = zpT ? zpT.dataType : null;
  if (type === null && n.opType === 'QuantizeLinear') {
    const od = n.attr('output_dtype', 0) as number;
    if (od) type = od;
  }
  if (type === null && n.opType === 'DequantizeLinear') {
    const x = n.input(0);
    type = x?.constant()?.dataType ?? x?.elemType ?? typeHint;
  }
  return {
    scale,
    scaleConstant: scaleT !== null,
    zeroPoint: zpT ? zpT.toNumbers() : null,
    zeroPointGiven: !!zpV,
    type,
    perChannel,
    hasAxisAttr,
    axis,
  };
}

/** Human-readable name of a quantized element type. */
export function qTypeName(t: number | null): string {
  switch (t) {
    case null: return 'unspecified';
    case DataType.INT8: return 'int8';
    case DataType.UINT8: return 'uint8';
    case DataType.INT16: return 'int16';
    case DataType.UINT16: return 'uint16';
    case DataType.INT32: return 'int32';
    case 17: return 'float8e4m3fn';
    case 18: return 'float8e4m3fnuz';
    case 19: return 'float8e5m2';
    case 20: return 'float8e5m2fnuz';
    case 21: return 'uint4';
    case 22: return 'int4';
    default: return `dtype(${t})`;
  }
}

/** Element types TensorRT reads in explicit quantization besides INT8 (newer releases). */
export const NEWER_TRT_QTYPES: ReadonlySet<number> = new Set([17 /* FP8 E4M3FN */, 22 /* INT4 (weights) */]);
