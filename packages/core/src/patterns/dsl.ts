import type { Node } from '../ir/node.js';
import type { Tensor } from '../ir/tensor.js';
import type { Value } from '../ir/value.js';

/**
 * A small matching DSL. A pattern is written as the expression it matches, from the
 * last op back to its inputs:
 *
 *   op('Relu', [maybe('BatchNormalization', op('Conv', [input('input'), constant('weight')]).as('conv'))])
 *
 * Matching walks producers backwards from an anchor node, binding roles (tensors) and
 * captures (nodes). Every failure records why, so `explainMatch` can tell a user which
 * link broke.
 */

/**
 * Mutable state of one match attempt. Backtracking is an undo trail: `mark` is the
 * trail's length and `reset` undoes the bindings made since, so a try that fails costs
 * no copies (the matcher marks at every node of every candidate).
 */
export class MatchState {
  nodes: Node[] = [];
  readonly roles = new Map<string, Value>();
  readonly captured = new Map<string, Node>();
  /** Nodes other matches already own (fusions never share a node). */
  readonly claimed: ReadonlySet<Node>;
  /**
   * The deepest failure seen, for explanations. Its reason is made only when read: a
   * transform tries thousands of nodes, and naming each failure cost more than matching.
   */
  failure: { depth: number; why: string | (() => string) } | null = null;
  depth = 0;
  /** Undo entries: a role or capture set since a mark, with what it held before. */
  private readonly trail: { map: Map<string, unknown>; key: string; had: unknown }[] = [];

  constructor(claimed: ReadonlySet<Node> = new Set()) {
    this.claimed = claimed;
  }

  fail(why: string | (() => string)): false {
    if (!this.failure || this.depth >= this.failure.depth) this.failure = { depth: this.depth, why };
    return false;
  }

  /** The deepest failure's reason, or null. */
  reason(): string | null {
    const why = this.failure?.why;
    return why === undefined ? null : typeof why === 'string' ? why : why();
  }

  bindRole(role: string, v: Value): void {
    this.record(this.roles, role);
    this.roles.set(role, v);
  }

  capture(name: string, n: Node): void {
    this.record(this.captured, name);
    this.captured.set(name, n);
  }

  private record(map: Map<string, unknown>, key: string): void {
    this.trail.push({ map, key, had: map.get(key) });
  }

  mark(): [number, number] {
    return [this.nodes.length, this.trail.length];
  }

  reset([n, t]: [number, number]): void {
    this.nodes.length = n;
    while (this.trail.length > t) {
      const { map, key, had } = this.trail.pop()!;
      if (had === undefined) map.delete(key);
      else map.set(key, had);
    }
  }
}

/**
 * Matching is written in continuation-passing style: `next` matches the rest of the
 * pattern, so a failure later on (e.g. the group leaking a tensor) backtracks into
 * earlier choices, such as the other operand order of a commutative Add.
 */
export type Next = () => boolean;

/** Anything that can match a value (a tensor edge of the graph). */
export interface ValuePattern {
  matchValue(v: Value | null, s: MatchState, next: Next): boolean;
  /** Largest number of nodes this pattern can match (orders patterns longest-first). */
  readonly maxNodes: number;
  toString(): string;
}

export type NodePredicate = (n: Node) => true | string | boolean;
export type TensorPredicate = (t: Tensor, v: Value) => true | string | boolean;

export interface OpOptions {
  /** Inputs may match in either order (Add, Mul). */
  commutative?: boolean;
  /** Extra condition on the node; a string return value is the rejection reason. */
  where?: NodePredicate;
}

/** Matches a value produced by a node of one of the given op types. */
export class NodePattern implements ValuePattern {
  readonly opTypes: readonly string[];
  readonly inputs: readonly (ValuePattern | undefined)[];
  readonly options: OpOptions;
  captureName: string | null = null;

  constructor(opTypes: readonly string[], inputs: readonly (ValuePattern | undefined)[], options: OpOptions = {}) {
    this.opTypes = opTypes;
    this.inputs = inputs;
    this.options = options;
  }

  /** Names the matched node (available as `match.captured[name]`). */
  as(name: string): this {
    this.captureName = name;
    return this;
  }

  get maxNodes(): number {
    return 1 + this.inputs.reduce((s, p) => s + (p?.maxNodes ?? 0), 0);
  }

  matchValue(v: Value | null, s: MatchState, next: Next): boolean {
    const p = v?.producer;
    if (!v || !p) return s.fail(() => `${v ? `tensor ${v.name}` : 'a missing input'} is not produced by ${this.label()}`);
    return this.matchNode(p, s, next);
  }

  matchNode(n: Node, s: MatchState, next: Next): boolean {
    if (!this.opTypes.includes(n.opType) || n.domain !== '') return s.fail(() => `${n.describe()} is not ${this.label()}`);
    if (s.claimed.has(n)) return s.fail(() => `${n.describe()} already belongs to another match`);
    if (s.nodes.includes(n)) return s.fail(() => `${n.describe()} appears twice`);
    if (this.options.where) {
      const ok = this.options.where(n);
      if (ok !== true) return s.fail(() => `${n.describe()}: ${typeof ok === 'string' ? ok : 'condition not met'}`);
    }
    const saved = s.mark();
    s.nodes.push(n);
    if (this.captureName) s.capture(this.captureName, n);
    const orders = this.options.commutative && this.inputs.length === 2 ? [[0, 1], [1, 0]] : [this.inputs.map((_, i) => i)];
    for (const order of orders) {
      const inputsFrom = (i: number): boolean => {
        if (i === order.length) return next();
        const p = this.inputs[i];
        if (!p) return inputsFrom(i + 1);
        s.depth++;
        const ok = p.matchValue(n.input(order[i]!), s, () => {
          s.depth--;
          const rest = inputsFrom(i + 1);
          s.depth++;
          return rest;
        });
        s.depth--;
        return ok;
      };
      const inner = s.mark();
      if (inputsFrom(0)) return true;
      s.reset(inner);
    }
    s.reset(saved);
    return false;
  }

  label(): string {
    return this.opTypes.length === 1 ? this.opTypes[0]! : `one of ${this.opTypes.join('/')}`;
  }

  toString(): string {
    return `${this.opTypes.join('|')}(${this.inputs.map((p) => p?.toString() ?? '_').join(', ')})`;
  }
}

class InputPattern implements ValuePattern {
  readonly maxNodes = 0;
  constructor(readonly role: string | null, readonly where?: (v: Value) => true | string | boolean) {}
  matchValue(v: Value | null, s: MatchState, next: Next): boolean {
    if (!v) return s.fail(() => `input ${this.role ?? ''} is missing`);
    if (this.where) {
      const ok = this.where(v);
      if (ok !== true) return s.fail(() => `tensor ${v.name}: ${typeof ok === 'string' ? ok : 'condition not met'}`);
    }
    return bindThen(s, this.role, v, next);
  }
  toString(): string {
    return this.role ?? '_';
  }
}

class ConstantPattern implements ValuePattern {
  readonly maxNodes = 0;
  constructor(readonly role: string | null, readonly where?: TensorPredicate) {}
  matchValue(v: Value | null, s: MatchState, next: Next): boolean {
    const t = v?.constant();
    if (!v || !t) return s.fail(() => `${v ? `tensor ${v.name}` : 'a missing input'} is not a constant${this.role ? ` (${this.role})` : ''}`);
    if (this.where) {
      const ok = this.where(t, v);
      if (ok !== true) return s.fail(() => `constant ${v.name}: ${typeof ok === 'string' ? ok : 'condition not met'}`);
    }
    return bindThen(s, this.role, v, next);
  }
  toString(): string {
    return `const ${this.role ?? ''}`.trim();
  }
}

class OneOfPattern implements ValuePattern {
  constructor(readonly alternatives: readonly ValuePattern[]) {}
  get maxNodes(): number {
    return Math.max(...this.alternatives.map((a) => a.maxNodes));
  }
  matchValue(v: Value | null, s: MatchState, next: Next): boolean {
    for (const alt of this.alternatives) {
      const saved = s.mark();
      if (alt.matchValue(v, s, next)) return true;
      s.reset(saved);
    }
    return false;
  }
  toString(): string {
    return `(${this.alternatives.join(' | ')})`;
  }
}

class BindPattern implements ValuePattern {
  constructor(readonly role: string, readonly inner: ValuePattern) {}
  get maxNodes(): number {
    return this.inner.maxNodes;
  }
  matchValue(v: Value | null, s: MatchState, next: Next): boolean {
    return this.inner.matchValue(v, s, () => bindThen(s, this.role, v!, next));
  }
  toString(): string {
    return `${this.role}=${this.inner}`;
  }
}

class SamePattern implements ValuePattern {
  readonly maxNodes = 0;
  constructor(readonly role: string) {}
  matchValue(v: Value | null, s: MatchState, next: Next): boolean {
    const bound = s.roles.get(this.role);
    if (!bound) return s.fail(() => `"${this.role}" is not matched yet`);
    if (v !== bound) return s.fail(() => `expected tensor ${bound.name} ("${this.role}") here, found ${v?.name ?? 'nothing'}`);
    return next();
  }
  toString(): string {
    return `=${this.role}`;
  }
}

/** Several node patterns tried in order at the same node (a pattern root with alternatives). */
export class NodeChoice implements ValuePattern {
  readonly alternatives: readonly NodePattern[];
  /** The alternatives' op types, once: transform asks for them at every node. */
  readonly opTypes: readonly string[];
  constructor(alternatives: readonly NodePattern[]) {
    this.alternatives = alternatives;
    this.opTypes = [...new Set(alternatives.flatMap((a) => a.opTypes))];
  }
  get maxNodes(): number {
    return Math.max(...this.alternatives.map((a) => a.maxNodes));
  }
  matchNode(n: Node, s: MatchState, next: Next): boolean {
    for (const alt of this.alternatives) {
      const saved = s.mark();
      if (alt.matchNode(n, s, next)) return true;
      s.reset(saved);
    }
    return false;
  }
  matchValue(v: Value | null, s: MatchState, next: Next): boolean {
    const p = v?.producer;
    if (!v || !p) return s.fail(() => `${v ? `tensor ${v.name}` : 'a missing input'} is not produced by ${this.opTypes.join('/')}`);
    return this.matchNode(p, s, next);
  }
  toString(): string {
    return `(${this.alternatives.join(' | ')})`;
  }
}

/** A node matching the first of several node patterns (e.g. any activation). */
export function choice(...alternatives: (NodePattern | NodeChoice)[]): NodeChoice {
  return new NodeChoice(alternatives.flatMap((a) => (a instanceof NodeChoice ? a.alternatives : [a])));
}

/** Binds `role` to `v` (if given) and continues; undoes the binding when the rest fails. */
function bindThen(s: MatchState, role: string | null, v: Value, next: Next): boolean {
  if (!role) return next();
  const had = s.roles.get(role);
  if (had) return had === v ? next() : s.fail(() => `role "${role}" is bound to ${had.name} but here is ${v.name}`);
  const saved = s.mark();
  s.bindRole(role, v);
  if (next()) return true;
  s.reset(saved);
  return false;
}

// ---- the builders ------------------------------------------------------------------

/** A node of one of `opTypes` whose inputs match `inputs` (undefined = anything). */
export function op(opTypes: string | readonly string[], inputs: readonly (ValuePattern | undefined)[] = [], options: OpOptions = {}): NodePattern {
  return new NodePattern(typeof opTypes === 'string' ? [opTypes] : opTypes, inputs, options);
}

/** Any tensor, bound to `role` when given. */
export function input(role: string | null = null, where?: (v: Value) => true | string | boolean): ValuePattern {
  return new InputPattern(role, where);
}

/** A constant tensor (initializer, Constant node, or either behind Identity). */
export function constant(role: string | null = null, where?: TensorPredicate): ValuePattern {
  return new ConstantPattern(role, where);
}

/** The first alternative that matches. List longer alternatives first. */
export function oneOf(...alternatives: ValuePattern[]): ValuePattern {
  return new OneOfPattern(alternatives);
}

/** `opType(inner, ...rest)` if present, else just `inner`: an optional link in a chain. */
export function maybe(opTypes: string | readonly string[], inner: ValuePattern, rest: readonly (ValuePattern | undefined)[] = [], options: OpOptions = {}): ValuePattern {
  return oneOf(op(opTypes, [inner, ...rest], options), inner);
}

/** Matches `inner` and binds the matched tensor to `role`. */
export function bind(role: string, inner: ValuePattern): ValuePattern {
  return new BindPattern(role, inner);
}

/** The very tensor bound to `role` earlier in the same match (for x·σ(x)-style patterns). */
export function same(role: string): ValuePattern {
  return new SamePattern(role);
}
