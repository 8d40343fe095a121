import onnxProto from 'onnx-proto';

/** The ONNX protobuf classes (generated static code from onnx.proto, via protobufjs). */
export const onnx = onnxProto.onnx;
export type ModelProto = onnxProto.onnx.IModelProto;
export type GraphProto = onnxProto.onnx.IGraphProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;
export type ValueInfoProto = onnxProto.onnx.IValueInfoProto;
export type TypeProto = onnxProto.onnx.ITypeProto;
export type OperatorSetIdProto = onnxProto.onnx.IOperatorSetIdProto;
export type StringStringEntryProto = onnxProto.onnx.IStringStringEntryProto;

export const AttributeType = onnxProto.onnx.AttributeProto.AttributeType;
export const DataLocation = onnxProto.onnx.TensorProto.DataLocation;

/** protobufjs decodes int64 fields as Long objects; the IR works with plain numbers. */
export function toNumber(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') return Number(v);
  const long = v as { toNumber?: () => number; low?: number; high?: number };
  if (typeof long.toNumber === 'function') return long.toNumber();
  if (typeof long.low === 'number' && typeof long.high === 'number') return long.high * 2 ** 32 + (long.low >>> 0);
  throw new TypeError(`expected an integer, got ${String(v)}`);
}
