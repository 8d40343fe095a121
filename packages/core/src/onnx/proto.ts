import protobuf from 'protobufjs/light.js';
import type { Reader, Writer, IConversionOptions } from 'protobufjs';
import * as schema from './schema.generated.js';

export { ONNX_SCHEMA_TAG, type Int64 } from './schema.generated.js';

/**
 * One ONNX message type's codec, the same calls onnx-proto offered. protobufjs decoders
 * keep fields the schema does not know in a non-enumerable `$unknowns` list, and encoders
 * write them back, so bytes from a newer ONNX survive a round trip.
 */
export interface MessageCodec<T> {
  decode(bytes: Uint8Array | Reader): T;
  encode(message: T, writer?: Writer): Writer;
  fromObject(object: Record<string, unknown>): T;
  toObject(message: T, options?: IConversionOptions): Record<string, unknown>;
}

// The current ONNX schema (see ONNX_SCHEMA_TAG), as protobufjs reflection: its decoders and
// encoders are generated code at run time, as fast as static code.
const root = protobuf.Root.fromJSON(schema.ONNX_DESCRIPTOR);
function codec<T>(name: string): MessageCodec<T> {
  const type = root.lookupType(`onnx.${name}`);
  return {
    decode(bytes) {
      // protobufjs drops unknown fields unless the reader is told otherwise (per reader,
      // so other protobufjs users in the process are unaffected).
      const reader = bytes instanceof protobuf.Reader ? bytes : protobuf.Reader.create(bytes);
      reader.discardUnknown = false;
      return type.decode(reader) as T;
    },
    encode: (message, writer) => type.encode(message as protobuf.Message, writer),
    fromObject: (object) => type.fromObject(object) as T,
    toObject: (message, options) => type.toObject(message as protobuf.Message, options),
  };
}

/** The ONNX protobuf messages (decode / encode / fromObject / toObject) and enums. */
export const onnx = {
  ModelProto: codec<schema.ModelProto>('ModelProto'),
  GraphProto: codec<schema.GraphProto>('GraphProto'),
  NodeProto: codec<schema.NodeProto>('NodeProto'),
  TensorProto: Object.assign(codec<schema.TensorProto>('TensorProto'), {
    DataType: schema.TensorProto_DataType,
    DataLocation: schema.TensorProto_DataLocation,
  }),
  AttributeProto: Object.assign(codec<schema.AttributeProto>('AttributeProto'), { AttributeType: schema.AttributeProto_AttributeType }),
  ValueInfoProto: codec<schema.ValueInfoProto>('ValueInfoProto'),
  TypeProto: codec<schema.TypeProto>('TypeProto'),
  FunctionProto: codec<schema.FunctionProto>('FunctionProto'),
  SparseTensorProto: codec<schema.SparseTensorProto>('SparseTensorProto'),
};

/** Field name → field number of a message type (e.g. "TensorProto"). */
export function fieldNumbers(name: string): Record<string, number> {
  return Object.fromEntries(root.lookupType(`onnx.${name}`).fieldsArray.map((f) => [f.name, f.id]));
}

export type {
  ModelProto, GraphProto, NodeProto, TensorProto, AttributeProto, ValueInfoProto, TypeProto, OperatorSetIdProto, StringStringEntryProto, FunctionProto,
} from './schema.generated.js';

export const AttributeType = schema.AttributeProto_AttributeType;
export const DataLocation = schema.TensorProto_DataLocation;

/** Copies a decoded message's unknown fields onto `to` as an ordinary (enumerable) property. */
function carryUnknowns<T extends object>(from: object, to: T): T {
  const unknowns = (from as { $unknowns?: Uint8Array[] }).$unknowns;
  if (unknowns?.length) (to as { $unknowns?: Uint8Array[] }).$unknowns = unknowns;
  return to;
}

/**
 * A decoded message's fields other than `modelled`, for the IR to carry through verbatim:
 * new fields of the schema and the unknown ones (protobufjs keeps those in a non-enumerable
 * `$unknowns`, which object spread would drop; here it becomes an ordinary property).
 */
export function fieldsExcept<T extends object, K extends keyof T>(message: T, modelled: readonly K[]): Omit<T, K> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(message)) if (!(modelled as readonly string[]).includes(k)) out[k] = (message as Record<string, unknown>)[k];
  return carryUnknowns(message, out) as Omit<T, K>;
}

/** A shallow copy of a decoded message that keeps its unknown fields (spread alone drops them). */
export function copyMessage<T extends object>(message: T, changes: Partial<T> = {}): T {
  return carryUnknowns(message, { ...message, ...changes });
}

/** An int64 field as a bigint, exact beyond 2^53 (a Long decodes through its decimal string). */
export function toBigInt(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(v);
  if (typeof v === 'string') return BigInt(v);
  if (v && typeof (v as { toNumber?: unknown }).toNumber === 'function') return BigInt(String(v));
  return BigInt(toNumber(v));
}

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
