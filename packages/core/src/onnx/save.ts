import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataLocation, copyMessage, type GraphProto, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from './proto.js';
import type { Model } from '../ir/model.js';
import type { Graph } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import type { Value } from '../ir/value.js';
import { externalDataFiles, readExternalData } from './external-data.js';
import { encodeModel, encodeModelChunks, writeChunks } from './encode.js';
import { assertNotProtected, writeFileAtomic } from '../util/atomic-write.js';

/** Protobuf messages cannot exceed 2 GiB; leave headroom for the graph itself. */
const PROTOBUF_LIMIT = 2 ** 31 - 64 * 2 ** 20;

export interface SaveOptions {
  /**
   * Store weights in a separate data file (ONNX external data). `true` uses
   * `<model file>.data` and a 1 KiB threshold. Chosen automatically when the model would
   * exceed protobuf's 2 GiB limit.
   */
  externalData?: boolean | { location?: string; threshold?: number };
  /** Other paths that must never be overwritten (the input model is always protected). */
  protect?: string[];
}

/** Something that can be exported as a plain ONNX model (e.g. a model with quantizers attached). */
export interface Exportable {
  toExportModel(): Model;
}

function isExportable(m: unknown): m is Exportable {
  return typeof (m as Exportable).toExportModel === 'function';
}

/**
 * Writes a model as ONNX: to a temporary file beside the target, then renamed, so a
 * failed or interrupted save never leaves a half-written model, and never over the
 * model's own source file.
 */
export async function saveModel(input: Model | Exportable, file: string, options: SaveOptions = {}): Promise<void> {
  const model = isExportable(input) ? input.toExportModel() : input;
  const target = path.resolve(file);
  const protect = [model.sourcePath, ...externalDataFiles(model), ...(options.protect ?? [])].filter((p): p is string => !!p);
  // Refuse before any work (and before an external data file is written beside it).
  await assertNotProtected(target, protect, 'input model (or its data)');

  const total = model.graph.initializers().reduce((s, v) => s + v.initializer!.byteLength, 0);
  const want = options.externalData ?? false;
  const external = want !== false || total > PROTOBUF_LIMIT;
  if (!external) {
    // The pieces go to the file as they are: the model is never in memory twice.
    const chunks = encodeModelChunks(modelToProto(model));
    await writeFileAtomic(target, (tmp) => writeChunks(tmp, chunks), { protect });
    return;
  }
  const cfg = typeof want === 'object' ? want : {};
  const location = cfg.location ?? `${path.basename(target)}.data`;
  if (path.isAbsolute(location) || location.split(/[\\/]/).includes('..')) {
    throw new Error(`saveModel: external data location "${location}" must be a file name inside the model's folder`);
  }
  const dataFile = path.join(path.dirname(target), location);
  const threshold = cfg.threshold ?? 1024;
  let proto!: ModelProto;
  await writeFileAtomic(dataFile, async (tmp) => {
    const fd = fs.openSync(tmp, 'w');
    let offset = 0;
    try {
      proto = modelToProto(model, (t) => {
        if (t.byteLength < threshold) return null;
        const ref = t.externalRef;
        const bytes = ref ? readExternalData(ref) : t.rawBytes();
        fs.writeSync(fd, bytes, 0, bytes.length, offset);
        const entry = { location, offset, length: bytes.length };
        offset += bytes.length;
        // Page-align the next tensor so it can be memory-mapped.
        offset = Math.ceil(offset / 4096) * 4096;
        return entry;
      });
    } finally {
      fs.closeSync(fd);
    }
  }, { protect });
  const bytes = encodeModel(proto);
  await writeFileAtomic(target, bytes, { protect });
}

type ExternalWriter = (t: Tensor) => { location: string; offset: number; length: number } | null;

/** The ModelProto for a model (tensors inline unless `writeExternal` takes them). */
export function modelToProto(model: Model, writeExternal?: ExternalWriter): ModelProto {
  return { ...model.header, graph: graphToProto(model.graph, writeExternal) };
}

/** Serialises a model to ONNX bytes (all tensors inline). */
export function modelToBytes(model: Model): Uint8Array {
  return encodeModel(modelToProto(model));
}

function graphToProto(g: Graph, writeExternal?: ExternalWriter): GraphProto {
  const node: NodeProto[] = g.nodes.map((n) => {
    const p: NodeProto = {
      ...n.passthrough,
      input: trimTrailingEmpty(n.inputs.map((v) => v?.name ?? '')),
      output: n.outputs.map((v) => v.name),
      opType: n.opType,
      attribute: [...n.attributes.values()],
    };
    if (n.name) p.name = n.name;
    if (n.domain) p.domain = n.domain;
    if (n.docString) p.docString = n.docString;
    return p;
  });
  const interfaceValues = new Set<Value>([...g.inputs, ...g.outputs]);
  const typed = new Map<string, Value>();
  for (const v of g.allValues()) if (v.type && !v.initializer && !interfaceValues.has(v)) typed.set(v.name, v);
  const valueInfo: ValueInfoProto[] = [];
  for (const name of g.valueInfoOrder) {
    const v = typed.get(name);
    if (v) {
      valueInfo.push(valueInfoOf(v));
      typed.delete(name);
    }
  }
  for (const v of typed.values()) valueInfo.push(valueInfoOf(v));

  const proto: GraphProto = {
    ...g.passthrough,
    node,
    name: g.name,
    initializer: g.initializers().map((v) => tensorToProto(v.initializer!, v.name, writeExternal)),
    input: g.inputs.map(valueInfoOf),
    output: g.outputs.map(valueInfoOf),
    valueInfo,
  };
  if (g.docString) proto.docString = g.docString;
  return proto;
}

function trimTrailingEmpty(names: string[]): string[] {
  let n = names.length;
  while (n > 0 && names[n - 1] === '') n--;
  return names.slice(0, n);
}

function valueInfoOf(v: Value): ValueInfoProto {
  const p: ValueInfoProto = { ...v.passthrough, name: v.name };
  if (v.type) p.type = v.type;
  if (v.docString) p.docString = v.docString;
  return p;
}

function tensorToProto(t: Tensor, name: string, writeExternal?: ExternalWriter): TensorProto {
  const ext = writeExternal?.(t);
  const orig = t.originalProto;
  if (ext) {
    const base: TensorProto = orig ? stripData(orig) : { dims: [...t.dims], dataType: t.dataType };
    return copyMessage(base, {
      name,
      dataLocation: DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: ext.location },
        { key: 'offset', value: String(ext.offset) },
        { key: 'length', value: String(ext.length) },
      ],
    });
  }
  const ref = t.externalRef;
  if (orig && !ref) return orig.name === name ? orig : copyMessage(orig, { name });
  if (orig && ref) return copyMessage(stripData(orig), { name, rawData: readExternalData(ref) });
  return { name, dims: [...t.dims], dataType: t.dataType, rawData: t.rawBytes() };
}

const DATA_FIELDS = ['rawData', 'floatData', 'int32Data', 'int64Data', 'doubleData', 'uint64Data', 'stringData', 'externalData', 'dataLocation'] as const;

/** A tensor proto's metadata (name, dims, type, doc) without its payload. */
function stripData(p: TensorProto): TensorProto {
  const rest = copyMessage(p);
  for (const k of DATA_FIELDS) delete rest[k];
  return rest;
}
