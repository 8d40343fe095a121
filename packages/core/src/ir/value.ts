import type { Node } from './node.js';
import type { Tensor } from './tensor.js';
import type { TypeProto, ValueInfoProto } from '../onnx/proto.js';
import { toNumber } from '../onnx/proto.js';

/** One use of a value: `node.inputs[index]` is it (index -1: referenced inside a subgraph). */
export interface Use {
  node: Node;
  index: number;
}

/** ValueInfoProto fields the IR does not interpret (metadata_props, unknown fields), kept verbatim. */
export type ValuePassthrough = Omit<ValueInfoProto, 'name' | 'type' | 'docString'>;

/** A dimension: a number, a symbolic name ("batch"), or unknown. */
export type Dim = number | string | null;

/**
 * A tensor flowing through the graph (graphsurgeon's Variable and Constant in one):
 * it knows the node that produces it and the nodes that consume it. An initializer is a
 * Value with `initializer` set and no producer.
 */
export class Value {
  name: string;
  /** ONNX type as read from value_info / graph inputs / outputs (kept verbatim). */
  type: TypeProto | null = null;
  docString = '';
  /** Written back on every value_info / input / output entry of this value. */
  passthrough: ValuePassthrough = {};
  producer: Node | null = null;
  readonly uses: Use[] = [];
  /** Constant data when this value is a graph initializer. */
  initializer: Tensor | null = null;

  constructor(name: string) {
    this.name = name;
  }

  get consumers(): Node[] {
    const seen = new Set<Node>();
    for (const u of this.uses) seen.add(u.node);
    return [...seen];
  }

  get isInitializer(): boolean {
    return this.initializer !== null;
  }

  /**
   * Constant data, whether the value is an initializer or the output of a Constant node
   * (value / value_float(s) / value_int(s)). Null when the value is computed at run time.
   */
  constant(): Tensor | null {
    if (this.initializer) return this.initializer;
    const p = this.producer;
    if (!p || p.domain !== '') return null;
    if (p.opType === 'Constant') return p.constantValue();
    // PyTorch's exporter routes shared parameters through Identity nodes.
    if (p.opType === 'Identity') return p.input(0)?.constant() ?? null;
    return null;
  }

  /** Element type code (TensorProto.DataType), if known. */
  get elemType(): number | null {
    if (this.initializer) return this.initializer.dataType;
    return this.type?.tensorType?.elemType ?? null;
  }

  /** Shape, if known. */
  get shape(): Dim[] | null {
    if (this.initializer) return [...this.initializer.dims];
    const s = this.type?.tensorType?.shape;
    if (!s) return null;
    return (s.dim ?? []).map((d) => (d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null ? toNumber(d.dimValue) : null));
  }

  toString(): string {
    return `Value(${this.name})`;
  }
}
