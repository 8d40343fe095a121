import { Graph } from './graph.js';
import type { ModelProto } from '../onnx/proto.js';

/**
 * An ONNX model: a graph plus the model-level fields (IR version, opset imports,
 * metadata, functions). Fields the IR does not touch are kept verbatim in `header`.
 */
export class Model {
  graph: Graph;
  /** ModelProto fields other than the graph (opsetImport, metadataProps, functions, ...). */
  header: Omit<ModelProto, 'graph'>;
  /** The file this model was loaded from, if any (saveModel refuses to overwrite it). */
  sourcePath: string | null = null;

  constructor(graph: Graph, header: Omit<ModelProto, 'graph'> = {}) {
    this.graph = graph;
    this.header = header;
  }

  /** Opset version imported for a domain ('' = ai.onnx), or undefined. */
  opset(domain = ''): number | undefined {
    const e = (this.header.opsetImport ?? []).find((o) => (o.domain ?? '') === domain || (domain === '' && o.domain === 'ai.onnx'));
    return e ? Number(e.version) : undefined;
  }

  setOpset(domain: string, version: number): void {
    const list = [...(this.header.opsetImport ?? [])];
    const i = list.findIndex((o) => (o.domain ?? '') === domain);
    if (i >= 0) list[i] = { ...list[i], version };
    else list.push({ domain, version });
    this.header = { ...this.header, opsetImport: list };
  }

  metadata(): Map<string, string> {
    return new Map((this.header.metadataProps ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  }

  setMetadata(key: string, value: string): void {
    const list = (this.header.metadataProps ?? []).filter((e) => e.key !== key);
    list.push({ key, value });
    this.header = { ...this.header, metadataProps: list };
  }

  clone(): Model {
    const m = new Model(this.graph.clone(), { ...this.header });
    m.sourcePath = this.sourcePath;
    return m;
  }
}
