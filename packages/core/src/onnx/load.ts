import * as fs from 'node:fs';
import * as path from 'node:path';
import { onnx, AttributeType, DataLocation, type GraphProto, type ModelProto, type TensorProto } from './proto.js';
import { OnnxFormatError } from './errors.js';
import { NotRegularFileError, openRegularSync } from '../util/file-kind.js';
import { quoteName } from '../util/printable.js';
import { resolveExternalData } from './external-data.js';
import { Graph } from '../ir/graph.js';
import { Model } from '../ir/model.js';
import { Node } from '../ir/node.js';
import { Tensor } from '../ir/tensor.js';

export interface LoadOptions {
  /** Folder that external data locations are relative to (default: the model's folder; required for bytes with external data). */
  baseDir?: string;
  /** Name used in error messages when loading from bytes. */
  name?: string;
}

/** Reads an ONNX model from a file path or from its bytes. */
export function loadModel(source: string | Uint8Array, options: LoadOptions = {}): Model {
  const file = typeof source === 'string' ? source : options.name ?? '<bytes>';
  let bytes: Uint8Array;
  if (typeof source === 'string') {
    bytes = readModelBytes(source, file);
  } else {
    bytes = source;
  }
  const proto = decodeModel(bytes, file);
  const baseDir = options.baseDir ?? (typeof source === 'string' ? path.dirname(path.resolve(source)) : undefined);
  const model = modelFromProto(proto, file, baseDir);
  if (typeof source === 'string') model.sourcePath = path.resolve(source);
  return model;
}

/** A protobuf message cannot exceed 2 GiB: a bigger file is not an ONNX model (weights that big live in external data). */
const PROTOBUF_MAX_BYTES = 2 ** 31;

/**
 * The first field tags a ModelProto can start with (field number << 3 | wire type):
 * ir_version, producer_name/version, domain, model_version, doc_string, graph,
 * opset_import, metadata_props, and the two-byte tags of training_info, functions and
 * configuration. Exporters write fields in number order, so a model starts with one.
 */
const MODEL_FIRST_TAGS = new Set([0x08, 0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42, 0x72]);
const MODEL_FIRST_TAGS_2 = new Set([0xa201, 0xca01, 0xd201]);

function looksLikeModelProto(head: Uint8Array): boolean {
  if (head.length === 0) return false;
  if (MODEL_FIRST_TAGS.has(head[0]!)) return true;
  return head.length >= 2 && MODEL_FIRST_TAGS_2.has((head[0]! << 8) | head[1]!);
}

/** The file's bytes, after checks that need no full read: a regular file, not empty, under 2 GiB, starts like a ModelProto. */
function readModelBytes(source: string, file: string): Uint8Array {
  let opened: { fd: number; stat: fs.Stats };
  try {
    opened = openRegularSync(source);
  } catch (err) {
    if (err instanceof NotRegularFileError) {
      throw new OnnxFormatError(file, err.kind === 'a folder' ? 'is a folder, expected an .onnx file' : `is ${err.kind}, expected an .onnx file`);
    }
    const code = (err as NodeJS.ErrnoException).code;
    throw new OnnxFormatError(file, code === 'ENOENT' ? 'no such file' : `cannot open (${code ?? String(err)})`);
  }
  const { fd, stat } = opened;
  try {
    if (stat.size === 0) throw new OnnxFormatError(file, 'is empty (0 bytes)');
    if (stat.size >= PROTOBUF_MAX_BYTES) {
      throw new OnnxFormatError(file, `is ${(stat.size / 2 ** 30).toFixed(1)} GiB, over protobuf's 2 GiB limit, so it is not an ONNX model (a model this large keeps its weights in external data files)`);
    }
    const head = new Uint8Array(Math.min(2, stat.size));
    fs.readSync(fd, head, 0, head.length, 0);
    if (!looksLikeModelProto(head)) {
      const hex = [...head].map((b) => b.toString(16).padStart(2, '0')).join(' ');
      throw new OnnxFormatError(file, `not a valid ONNX model: it does not start like one (first bytes ${hex}); is it the right file?`);
    }
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function decodeModel(bytes: Uint8Array, file: string): ModelProto {
  let proto: ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new OnnxFormatError(file, `not a valid ONNX model: the protobuf does not decode (${why}); is the file truncated or not ONNX?`);
  }
  if (!proto.graph) throw new OnnxFormatError(file, 'not a valid ONNX model: it has no graph');
  if (!proto.opsetImport || proto.opsetImport.length === 0) throw new OnnxFormatError(file, 'not a valid ONNX model: it imports no opset');
  if (!proto.graph.output || proto.graph.output.length === 0) throw new OnnxFormatError(file, 'not a valid ONNX model: the graph has no outputs');
  return proto;
}

/** Builds the IR from a decoded ModelProto. */
export function modelFromProto(proto: ModelProto, file = '<model>', baseDir?: string): Model {
  const { graph: gp, ...header } = proto;
  const graph = graphFromProto(gp!, file, baseDir);
  return new Model(graph, header);
}

function graphFromProto(gp: GraphProto, file: string, baseDir: string | undefined): Graph {
  const g = new Graph();
  g.name = gp.name ?? '';
  g.docString = gp.docString ?? '';
  if (gp.sparseInitializer?.length) g.passthrough.sparseInitializer = gp.sparseInitializer;
  if (gp.quantizationAnnotation?.length) g.passthrough.quantizationAnnotation = gp.quantizationAnnotation;

  for (const t of gp.initializer ?? []) {
    const name = t.name ?? '';
    if (!name) throw new OnnxFormatError(file, 'an initializer has no name');
    g.getOrCreateValue(name).initializer = tensorFromProto(t, file, baseDir);
  }
  for (const vi of gp.input ?? []) {
    const v = g.getOrCreateValue(vi.name ?? '');
    v.type = vi.type ?? null;
    v.docString = vi.docString ?? '';
    g.inputs.push(v);
  }
  for (const vi of gp.valueInfo ?? []) {
    const v = g.getOrCreateValue(vi.name ?? '');
    v.type = vi.type ?? null;
    v.docString = vi.docString ?? '';
    g.valueInfoOrder.push(v.name);
  }
  gp.node?.forEach((np, k) => {
    const node = new Node(np.opType ?? '', np.name ?? '', np.domain ?? '');
    if (!node.opType) throw new OnnxFormatError(file, `node #${k}${node.name ? ` ${quoteName(node.name)}` : ''} has no op type`);
    node.docString = np.docString ?? '';
    for (const a of np.attribute ?? []) node.attributes.set(a.name ?? '', a);
    node.setInputs((np.input ?? []).map((n) => (n ? g.getOrCreateValue(n) : null)));
    const outs = (np.output ?? []).map((n, i) => g.getOrCreateValue(n || g.uniqueName(`${node.name || node.opType}_unused_${i}`)));
    for (const o of outs) {
      if (o.producer) throw new OnnxFormatError(file, `tensor ${quoteName(o.name)} is produced by both ${o.producer.describe()} and ${node.describe()}`);
      if (o.initializer) throw new OnnxFormatError(file, `tensor ${quoteName(o.name)} is both an initializer and the output of ${node.describe()}`);
    }
    node.setOutputs(outs);
    if (node.hasSubgraphs()) node.setImplicitInputs([...outerReferences(np.attribute ?? [])].map((n) => g.getOrCreateValue(n)));
    g.nodes.push(node);
  });
  for (const vi of gp.output ?? []) {
    const v = g.getOrCreateValue(vi.name ?? '');
    v.type = vi.type ?? v.type;
    v.docString = vi.docString ?? v.docString;
    g.outputs.push(v);
  }
  // Every tensor a node reads must come from somewhere.
  const defined = new Set(g.inputs);
  for (const n of g.nodes) {
    for (const v of [...n.inputs, ...n.implicitInputs]) {
      if (v && !v.producer && !v.initializer && !defined.has(v)) {
        throw new OnnxFormatError(file, `${n.describe()} reads tensor ${quoteName(v.name)}, which no node, graph input or initializer provides`);
      }
    }
  }
  for (const o of g.outputs) {
    if (!o.producer && !o.initializer && !defined.has(o)) throw new OnnxFormatError(file, `graph output ${quoteName(o.name)} is never computed`);
  }
  return g;
}

function tensorFromProto(t: TensorProto, file: string, baseDir: string | undefined): Tensor {
  if (t.dataLocation === DataLocation.EXTERNAL) {
    if (!baseDir) throw new OnnxFormatError(file, `tensor ${quoteName(t.name)} uses external data; pass baseDir when loading from bytes`);
    return Tensor.fromProto(t, resolveExternalData(t, baseDir, file));
  }
  return Tensor.fromProto(t);
}

/** Names a node's subgraphs read from enclosing scopes (used but not defined inside). */
function outerReferences(attrs: readonly { type?: number | null; g?: GraphProto | null; graphs?: GraphProto[] | null }[]): Set<string> {
  const refs = new Set<string>();
  const visit = (gp: GraphProto, outer: Set<string>) => {
    const local = new Set<string>([
      ...(gp.input ?? []).map((v) => v.name ?? ''),
      ...(gp.initializer ?? []).map((t) => t.name ?? ''),
      ...(gp.node ?? []).flatMap((n) => n.output ?? []),
    ]);
    for (const n of gp.node ?? []) {
      for (const i of n.input ?? []) if (i && !local.has(i)) outer.add(i);
      for (const a of n.attribute ?? []) {
        const inner = new Set<string>();
        if (a.type === AttributeType.GRAPH && a.g) visit(a.g, inner);
        for (const sg of a.graphs ?? []) visit(sg, inner);
        for (const i of inner) if (!local.has(i)) outer.add(i);
      }
    }
    for (const o of gp.output ?? []) if (o.name && !local.has(o.name)) outer.add(o.name);
  };
  for (const a of attrs) {
    if (a.g) visit(a.g, refs);
    for (const sg of a.graphs ?? []) visit(sg, refs);
  }
  return refs;
}
