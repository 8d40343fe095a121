import { onnx } from '../../src/onnx/proto.js';

/** A canonical JS object of a model proto: defaults filled, int64 as strings, bytes as base64. */
export function canonical(bytes: Uint8Array): unknown {
  const m = onnx.ModelProto.decode(bytes);
  return onnx.ModelProto.toObject(m, { defaults: true, longs: String, bytes: String, arrays: true });
}
