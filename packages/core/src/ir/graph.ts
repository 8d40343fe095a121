import { Node, type AttrValue } from './node.js';
import { Value } from './value.js';
import type { Tensor } from './tensor.js';
import type { AttributeProto, GraphProto, TensorProto } from '../onnx/proto.js';

/** GraphProto fields the IR does not model. */
export type GraphPassthrough = Omit<GraphProto, 'node' | 'name' | 'initializer' | 'docString' | 'input' | 'output' | 'valueInfo'>;

export interface AddNodeSpec {
  opType: string;
  inputs?: readonly (Value | null)[];
  /** Output values, or how many fresh outputs to create. Default 1. */
  outputs?: readonly Value[] | number;
  attrs?: Record<string, AttrValue | AttributeProto>;
  name?: string;
  domain?: string;
}

/**
 * A computation graph: nodes in order, the values between them, graph inputs/outputs
 * and initializers. Rewrites are plain assignments (`node.setInput`, `replaceAllUses`)
 * followed by `cleanup()` and `toposort()`, as in onnx-graphsurgeon.
 */
export class Graph {
  name = '';
  docString = '';
  nodes: Node[] = [];
  inputs: Value[] = [];
  outputs: Value[] = [];
  /** Fields the IR does not model, carried through verbatim (sparse initializers, quantization annotations, metadata, unknown fields). */
  passthrough: GraphPassthrough = {};
  /** Names whose value_info the source file listed, in its order (so a round trip keeps it). */
  valueInfoOrder: string[] = [];
  private readonly values = new Map<string, Value>();
  private nameCounter = 0;

  /** The value with this name, if any. */
  value(name: string): Value | undefined {
    return this.values.get(name);
  }

  /** The value with this name, created when new. */
  getOrCreateValue(name: string): Value {
    let v = this.values.get(name);
    if (!v) {
      v = new Value(name);
      this.values.set(name, v);
    }
    return v;
  }

  /** A fresh value with a name not yet used in the graph. */
  addValue(base = 'v'): Value {
    return this.getOrCreateValue(this.uniqueName(base));
  }

  allValues(): IterableIterator<Value> {
    return this.values.values();
  }

  initializers(): Value[] {
    return [...this.values.values()].filter((v) => v.initializer !== null);
  }

  addInitializer(name: string, tensor: Tensor): Value {
    const v = this.getOrCreateValue(this.values.has(name) ? this.uniqueName(name) : name);
    v.initializer = tensor;
    return v;
  }

  rename(value: Value, name: string): void {
    if (value.name === name) return;
    if (this.values.has(name)) throw new Error(`cannot rename ${value.name}: a value named "${name}" exists`);
    this.values.delete(value.name);
    value.name = name;
    this.values.set(name, value);
  }

  /**
   * `base`, or `base_N`: free among value names and node names alike, since names made
   * here serve for both (onnxruntime refuses a model with two nodes of the same name).
   */
  uniqueName(base: string): string {
    if (!this.values.has(base) && !this.nodeNames().has(base)) return base;
    for (;;) {
      const n = `${base}_${++this.nameCounter}`;
      if (!this.values.has(n)) return n;
    }
  }

  private _nodeNames: Set<string> | null = null;
  private nodeNames(): Set<string> {
    if (!this._nodeNames) this._nodeNames = new Set(this.nodes.map((n) => n.name));
    return this._nodeNames;
  }

  /** Creates a node and appends it (call `toposort()` after a batch of rewrites). */
  addNode(spec: AddNodeSpec): Node {
    const node = new Node(spec.opType, spec.name ?? '', spec.domain ?? '');
    if (spec.name) this._nodeNames?.add(spec.name);
    for (const [k, v] of Object.entries(spec.attrs ?? {})) node.setAttr(k, v);
    node.setInputs(spec.inputs ?? []);
    const outs = spec.outputs ?? 1;
    const base = spec.name || spec.opType;
    node.setOutputs(typeof outs === 'number' ? Array.from({ length: outs }, (_, i) => this.addValue(`${base}_output_${i}`)) : outs);
    this.nodes.push(node);
    return node;
  }

  /** Removes a node, unlinking its inputs; its outputs lose their producer. */
  removeNode(node: Node): void {
    const i = this.nodes.indexOf(node);
    if (i < 0) throw new Error(`${node.describe()} is not in graph "${this.name}"`);
    this.nodes.splice(i, 1);
    this.detach(node);
  }

  /** Removes many nodes in one O(N) sweep. */
  removeNodes(nodes: Iterable<Node>): void {
    const drop = new Set(nodes);
    if (drop.size === 0) return;
    this.nodes = this.nodes.filter((n) => !drop.has(n));
    for (const n of drop) this.detach(n);
  }

  private detach(node: Node): void {
    node.detachInputs();
    for (const o of node.outputs) if (o.producer === node) o.producer = null;
  }

  /** Points every consumer of `from` (and graph outputs) at `to`. */
  replaceAllUses(from: Value, to: Value, opts: { except?: ReadonlySet<Node> } = {}): void {
    for (const u of [...from.uses]) {
      if (opts.except?.has(u.node) || u.index < 0) continue;
      u.node.setInput(u.index, to);
    }
    this.outputs = this.outputs.map((o) => (o === from ? to : o));
  }

  /**
   * Removes a single-input pass-through node (Identity, Dropout, ...) and connects its
   * consumers to its input. When the node's output is a graph output, the input value
   * takes over the output's name so the model's interface does not change.
   * Returns false (and leaves the graph alone) when that is impossible.
   */
  bypass(node: Node, inputIndex = 0): boolean {
    if (!this.canBypass(node, inputIndex)) return false;
    const input = node.input(inputIndex)!;
    const output = node.outputs[0]!;
    if (this.outputs.includes(output)) {
      this.removeNode(node);
      const keep = output.name;
      this.values.delete(output.name);
      output.name = `${keep}__bypassed`;
      this.rename(input, keep);
      input.type ??= output.type;
      this.replaceAllUses(output, input);
      return true;
    }
    this.removeNode(node);
    this.replaceAllUses(output, input);
    return true;
  }

  /** Whether `bypass(node)` can remove the node without changing the graph's interface. */
  canBypass(node: Node, inputIndex = 0): boolean {
    const input = node.input(inputIndex);
    const output = node.outputs[0];
    if (!input || !output) return false;
    if (output.uses.some((u) => u.index < 0)) return false; // read by name inside a subgraph
    if (this.outputs.includes(output)) {
      return !(this.inputs.includes(input) || input.isInitializer || this.outputs.includes(input));
    }
    return true;
  }

  /** Sorts nodes so every node follows its producers; stable for already-sorted parts. */
  toposort(): this {
    const nodeSet = new Set(this.nodes);
    if (this.isSorted(nodeSet)) return this; // the common case after a rewrite in place: one pass, no heap
    const indeg = new Map<Node, number>();
    for (const n of this.nodes) {
      let d = 0;
      for (const v of [...n.inputs, ...n.implicitInputs]) if (v?.producer && nodeSet.has(v.producer)) d++;
      indeg.set(n, d);
    }
    const order = new Map(this.nodes.map((n, i) => [n, i]));
    // A min-heap on original position keeps the result close to the input order.
    const heap: Node[] = [];
    const push = (n: Node) => {
      heap.push(n);
      let i = heap.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (order.get(heap[p]!)! <= order.get(heap[i]!)!) break;
        [heap[p], heap[i]] = [heap[i]!, heap[p]!];
        i = p;
      }
    };
    const pop = (): Node => {
      const top = heap[0]!;
      const last = heap.pop()!;
      if (heap.length) {
        heap[0] = last;
        let i = 0;
        for (;;) {
          const l = 2 * i + 1, r = l + 1;
          let m = i;
          if (l < heap.length && order.get(heap[l]!)! < order.get(heap[m]!)!) m = l;
          if (r < heap.length && order.get(heap[r]!)! < order.get(heap[m]!)!) m = r;
          if (m === i) break;
          [heap[m], heap[i]] = [heap[i]!, heap[m]!];
          i = m;
        }
      }
      return top;
    };
    for (const n of this.nodes) if (indeg.get(n) === 0) push(n);
    const out: Node[] = [];
    while (heap.length) {
      const n = pop();
      out.push(n);
      for (const o of n.outputs) {
        for (const u of o.uses) {
          if (!nodeSet.has(u.node)) continue;
          const d = indeg.get(u.node)! - 1;
          indeg.set(u.node, d);
          if (d === 0) push(u.node);
        }
      }
    }
    if (out.length !== this.nodes.length) {
      const stuck = this.nodes.filter((n) => !out.includes(n)).slice(0, 3).map((n) => n.describe());
      throw new Error(`graph "${this.name}" has a cycle (involving ${stuck.join(', ')})`);
    }
    this.nodes = out;
    return this;
  }

  /** Whether every node already follows the producers of its inputs. */
  private isSorted(nodeSet: ReadonlySet<Node>): boolean {
    const seen = new Set<Node>();
    for (const n of this.nodes) {
      for (const v of n.inputs) if (v?.producer && nodeSet.has(v.producer) && !seen.has(v.producer)) return false;
      for (const v of n.implicitInputs) if (v.producer && nodeSet.has(v.producer) && !seen.has(v.producer)) return false;
      seen.add(n);
    }
    return true;
  }

  /**
   * Removes nodes whose outputs nobody reads (and that are not graph outputs), then
   * initializers and value records nothing refers to.
   */
  cleanup(): this {
    const live = new Set<Node>();
    const stack: Node[] = [];
    const mark = (v: Value | null) => {
      const p = v?.producer;
      if (p && !live.has(p)) {
        live.add(p);
        stack.push(p);
      }
    };
    this.outputs.forEach(mark);
    while (stack.length) {
      const n = stack.pop()!;
      n.inputs.forEach(mark);
      n.implicitInputs.forEach(mark);
    }
    this.removeNodes(this.nodes.filter((n) => !live.has(n)));
    const keep = new Set<Value>([...this.inputs, ...this.outputs]);
    for (const n of this.nodes) {
      for (const v of n.inputs) if (v) keep.add(v);
      for (const v of n.implicitInputs) keep.add(v);
      for (const v of n.outputs) keep.add(v);
    }
    for (const [name, v] of this.values) if (!keep.has(v)) this.values.delete(name);
    this._nodeNames = null;
    return this;
  }

  /** Nodes by op type. */
  nodesOf(opType: string): Node[] {
    return this.nodes.filter((n) => n.opType === opType);
  }

  /** Op type → count, sorted by op type. */
  opCounts(): Record<string, number> {
    const c: Record<string, number> = {};
    for (const n of this.nodes) c[n.opType] = (c[n.opType] ?? 0) + 1;
    return Object.fromEntries(Object.entries(c).sort(([a], [b]) => a.localeCompare(b)));
  }

  /**
   * A structural copy: new Node and Value objects, shared (immutable) tensor data and
   * attribute protos, so cloning a multi-GB model costs no weight copies.
   */
  clone(): Graph {
    const g = new Graph();
    g.name = this.name;
    g.docString = this.docString;
    g.passthrough = { ...this.passthrough };
    g.valueInfoOrder = [...this.valueInfoOrder];
    g.nameCounter = this.nameCounter;
    const map = new Map<Value, Value>();
    for (const v of this.values.values()) {
      const c = g.getOrCreateValue(v.name);
      c.type = v.type;
      c.docString = v.docString;
      c.passthrough = { ...v.passthrough };
      c.initializer = v.initializer;
      map.set(v, c);
    }
    const m = (v: Value | null) => (v ? map.get(v)! : null);
    for (const n of this.nodes) {
      const c = new Node(n.opType, n.name, n.domain);
      c.docString = n.docString;
      c.passthrough = { ...n.passthrough };
      for (const [k, a] of n.attributes) c.attributes.set(k, a);
      c.setInputs(n.inputs.map(m));
      c.setOutputs(n.outputs.map((o) => map.get(o)!));
      c.setImplicitInputs(n.implicitInputs.map((v) => map.get(v)!));
      g.nodes.push(c);
    }
    g.inputs = this.inputs.map((v) => map.get(v)!);
    g.outputs = this.outputs.map((v) => map.get(v)!);
    return g;
  }
}

export type { TensorProto };
