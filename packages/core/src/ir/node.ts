import type { AttributeProto } from '../onnx/proto.js';
import { AttributeType, toNumber } from '../onnx/proto.js';
import { printableName, quoteName } from '../util/printable.js';
import { Tensor } from './tensor.js';
import type { Value } from './value.js';
import { DataType } from './dtype.js';

/** Attribute values the IR builds from plain JS (anything else: pass an AttributeProto). */
export type AttrValue = number | string | number[] | string[] | Tensor | { float: number } | { floats: number[] };

/**
 * An operator application. Inputs and outputs are Values; assigning through
 * `setInput` keeps every Value's consumer list right, so rewiring is one call.
 * Attributes are stored as ONNX AttributeProtos so that everything round-trips,
 * subgraphs (If/Loop/Scan bodies) included, which the IR carries through untouched.
 */
export class Node {
  opType: string;
  domain: string;
  name: string;
  docString = '';
  readonly attributes = new Map<string, AttributeProto>();
  private _inputs: (Value | null)[] = [];
  private _outputs: Value[] = [];
  /** Outer-scope values that this node's subgraphs read by name. */
  private _implicit: Value[] = [];

  constructor(opType: string, name = '', domain = '') {
    this.opType = opType;
    this.name = name;
    this.domain = domain;
  }

  get inputs(): readonly (Value | null)[] {
    return this._inputs;
  }

  get outputs(): readonly Value[] {
    return this._outputs;
  }

  get implicitInputs(): readonly Value[] {
    return this._implicit;
  }

  /** Input i, or null when absent / optional-empty. */
  input(i: number): Value | null {
    return this._inputs[i] ?? null;
  }

  output(i = 0): Value {
    const v = this._outputs[i];
    if (!v) throw new Error(`node ${this.describe()} has no output ${i}`);
    return v;
  }

  setInput(i: number, value: Value | null): void {
    const old = this._inputs[i];
    if (old) removeUse(old, this, i);
    while (this._inputs.length <= i) this._inputs.push(null);
    this._inputs[i] = value;
    if (value) value.uses.push({ node: this, index: i });
  }

  setInputs(values: readonly (Value | null)[]): void {
    this.detachInputs();
    values.forEach((v, i) => this.setInput(i, v));
    this._inputs.length = values.length;
  }

  setOutputs(values: readonly Value[]): void {
    for (const o of this._outputs) if (o.producer === this) o.producer = null;
    this._outputs = [...values];
    for (const o of values) o.producer = this;
  }

  setImplicitInputs(values: readonly Value[]): void {
    for (const v of this._implicit) removeUse(v, this, -1);
    this._implicit = [...values];
    for (const v of values) v.uses.push({ node: this, index: -1 });
  }

  /** Drops every input link (used before removing the node). */
  detachInputs(): void {
    this._inputs.forEach((v, i) => v && removeUse(v, this, i));
    this._inputs = [];
    this.setImplicitInputs([]);
  }

  /** The nodes consuming any of this node's outputs. */
  get successors(): Node[] {
    const s = new Set<Node>();
    for (const o of this._outputs) for (const u of o.uses) s.add(u.node);
    return [...s];
  }

  hasSubgraphs(): boolean {
    for (const a of this.attributes.values()) if (a.g || (a.graphs && a.graphs.length)) return true;
    return false;
  }

  // ---- attributes -----------------------------------------------------------------

  attr(name: string): number | string | number[] | string[] | Tensor | undefined;
  attr<T>(name: string, fallback: T): T;
  attr(name: string, fallback?: unknown): unknown {
    const a = this.attributes.get(name);
    if (!a) return fallback;
    switch (a.type) {
      case AttributeType.FLOAT: return a.f ?? 0;
      case AttributeType.INT: return toNumber(a.i);
      case AttributeType.STRING: return Buffer.from(a.s ?? new Uint8Array()).toString('utf8');
      case AttributeType.FLOATS: return [...(a.floats ?? [])];
      case AttributeType.INTS: return (a.ints ?? []).map(toNumber);
      case AttributeType.STRINGS: return (a.strings ?? []).map((s) => Buffer.from(s).toString('utf8'));
      case AttributeType.TENSOR: return a.t ? Tensor.fromProto(a.t) : fallback;
      default: return fallback;
    }
  }

  setAttr(name: string, value: AttrValue | AttributeProto): void {
    this.attributes.set(name, toAttributeProto(name, value));
  }

  /** Value of a Constant node. */
  constantValue(): Tensor | null {
    const a = (n: string) => this.attributes.get(n);
    if (a('value')?.t) return Tensor.fromProto(a('value')!.t!);
    if (a('value_float')) return Tensor.fromArray(new Float32Array([a('value_float')!.f ?? 0]), []);
    if (a('value_floats')) { const f = a('value_floats')!.floats ?? []; return Tensor.fromArray(Float32Array.from(f), [f.length]); }
    if (a('value_int')) return Tensor.fromArray(new BigInt64Array([BigInt(toNumber(a('value_int')!.i))]), [], DataType.INT64);
    if (a('value_ints')) { const v = (a('value_ints')!.ints ?? []).map((x) => BigInt(toNumber(x))); return Tensor.fromArray(BigInt64Array.from(v), [v.length], DataType.INT64); }
    return null;
  }

  describe(): string {
    return `${printableName(this.opType)}${this.name ? ` ${quoteName(this.name)}` : ''}`;
  }

  toString(): string {
    return `Node(${this.describe()})`;
  }
}

function removeUse(v: Value, node: Node, index: number): void {
  const k = v.uses.findIndex((u) => u.node === node && u.index === index);
  if (k >= 0) v.uses.splice(k, 1);
}

export function toAttributeProto(name: string, value: AttrValue | AttributeProto): AttributeProto {
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Tensor) && 'type' in value) {
    return { ...(value as AttributeProto), name };
  }
  if (value instanceof Tensor) return { name, type: AttributeType.TENSOR, t: tensorToProtoForAttr(value) };
  if (typeof value === 'number') {
    return Number.isInteger(value) ? { name, type: AttributeType.INT, i: value } : { name, type: AttributeType.FLOAT, f: value };
  }
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: Buffer.from(value, 'utf8') };
  if (Array.isArray(value)) {
    if (value.every((x) => typeof x === 'string')) return { name, type: AttributeType.STRINGS, strings: (value as string[]).map((s) => Buffer.from(s)) };
    if ((value as number[]).every((x) => Number.isInteger(x))) return { name, type: AttributeType.INTS, ints: value as number[] };
    return { name, type: AttributeType.FLOATS, floats: value as number[] };
  }
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
  if ('floats' in value) return { name, type: AttributeType.FLOATS, floats: value.floats };
  throw new Error(`cannot encode attribute ${name}`);
}

function tensorToProtoForAttr(t: Tensor) {
  return t.originalProto ?? { dims: [...t.dims], dataType: t.dataType, rawData: t.rawBytes() };
}
