import { describe, expect, it } from 'vitest';
import {
  Graph, Model, Tensor, bind, choice, constant, definePattern, explainMatch, input, matchPattern, maybe, modelToBytes, op, same, transform,
  type Value,
} from '../src/index.js';

/** x → Conv(w) → [BN] → Relu / Sigmoid·x ..., built by hand. */
function graph(build: (g: Graph, x: Value) => Value): Model {
  const g = new Graph();
  const x = g.getOrCreateValue('x');
  g.inputs.push(x);
  g.outputs.push(build(g, x));
  return new Model(g, { irVersion: 8, opsetImport: [{ domain: '', version: 17 }] });
}
const w = (g: Graph, name = 'w') => g.addInitializer(name, Tensor.fromArray(new Float32Array(4), [1, 1, 2, 2]));
const conv = (g: Graph, x: Value, name = 'conv') => g.addNode({ opType: 'Conv', name, inputs: [x, w(g, `${name}.w`)] }).output();
const unary = (g: Graph, opType: string, x: Value, name: string) => g.addNode({ opType, name, inputs: [x] }).output();

const ConvRelu = definePattern({ name: 'ConvRelu', root: op('Relu', [op('Conv', [input('input'), constant('weight')]).as('conv')]).as('act'), qdqPoints: ['input'] });
const ConvOnly = definePattern({ name: 'ConvOnly', root: op('Conv', [input('input'), constant('weight')]).as('conv'), qdqPoints: ['input'] });
const Silu = definePattern({
  name: 'ConvSiLU',
  root: op('Mul', [bind('pre', op('Conv', [input('input'), constant()])), op('Sigmoid', [same('pre')])], { commutative: true }),
});

describe('pattern matching', () => {
  it('binds roles and captures nodes', () => {
    const m = graph((g, x) => unary(g, 'Relu', conv(g, x), 'relu'));
    const r = matchPattern(ConvRelu, m.graph.nodes[1]!, { graph: m.graph });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.match.roles.input!.name).toBe('x');
    expect(r.match.roles.weight!.name).toBe('conv.w');
    expect(r.match.captured.conv!.name).toBe('conv');
    expect(r.match.nodes.map((n) => n.name)).toEqual(['conv', 'relu']);
  });

  it('explains a failed match', () => {
    const m = graph((g, x) => unary(g, 'Relu', unary(g, 'Sigmoid', x, 'sig'), 'relu'));
    expect(explainMatch(ConvRelu, m.graph.nodes[1]!, m.graph)).toMatch(/does not match at Relu "relu": Sigmoid "sig" is not Conv/);
  });

  it('refuses a group whose inner tensor is read outside it', () => {
    const m = graph((g, x) => {
      const c = conv(g, x);
      const r = unary(g, 'Relu', c, 'relu');
      return g.addNode({ opType: 'Add', inputs: [r, c], name: 'add' }).output();
    });
    const r = matchPattern(ConvRelu, m.graph.nodes[1]!, { graph: m.graph });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/also read by Add "add" outside the group/);
  });

  it('tries both operand orders of commutative ops and requires `same` tensors', () => {
    const a = graph((g, x) => { const c = conv(g, x); return g.addNode({ opType: 'Mul', name: 'mul', inputs: [unary(g, 'Sigmoid', c, 'sig'), c] }).output(); });
    expect(matchPattern(Silu, a.graph.nodes.at(-1)!, { graph: a.graph }).ok).toBe(true);
    const b = graph((g, x) => { const c = conv(g, x); const c2 = conv(g, x, 'conv2'); return g.addNode({ opType: 'Mul', name: 'mul', inputs: [c, unary(g, 'Sigmoid', c2, 'sig')] }).output(); });
    const r = matchPattern(Silu, b.graph.nodes.at(-1)!, { graph: b.graph });
    expect(r.ok).toBe(false);
  });

  it('backtracks into the other operand order when the first one leaks', () => {
    // Add(convA, convB): convA's output is also read elsewhere, so only convB can be the fused branch.
    const P = definePattern({ name: 'ConvAdd', root: op('Add', [op('Conv', [input('input'), constant()]), input('residual')], { commutative: true }), qdqPoints: ['input', 'residual'] });
    const m = graph((g, x) => {
      const a = conv(g, x, 'a');
      const b = conv(g, x, 'b');
      const add = g.addNode({ opType: 'Add', name: 'add', inputs: [a, b] }).output();
      return g.addNode({ opType: 'Add', name: 'out', inputs: [add, a] }).output();
    });
    const r = matchPattern(P, m.graph.nodes.find((n) => n.name === 'add')!, { graph: m.graph });
    expect(r.ok && r.match.captured).toBeDefined();
    expect(r.ok && r.match.roles.residual!.producer!.name).toBe('a');
  });

  it('matches optional links with maybe() and alternatives with choice()', () => {
    const P = definePattern({ name: 'P', root: choice(op('Relu', [maybe('Sigmoid', op('Conv', [input('input')]))]), op('Tanh', [input('input')])) });
    const with_ = graph((g, x) => unary(g, 'Relu', unary(g, 'Sigmoid', conv(g, x), 's'), 'r'));
    const without = graph((g, x) => unary(g, 'Relu', conv(g, x), 'r'));
    const tanh = graph((g, x) => unary(g, 'Tanh', x, 't'));
    const nodes = (m: Model) => { const r = matchPattern(P, m.graph.nodes.at(-1)!, { graph: m.graph }); return r.ok ? r.match.nodes.length : 0; };
    expect([nodes(with_), nodes(without), nodes(tanh)]).toEqual([3, 2, 1]);
  });
});

describe('transform()', () => {
  const RemoveIdentity = definePattern({ name: 'RemoveIdentity', root: op('Identity', [input()]), rewrite: (m, g) => void g.bypass(m.anchor) });

  it('runs conversions to a fixpoint, then fusions longest first without sharing nodes', () => {
    const model = graph((g, x) => {
      let h = unary(g, 'Identity', unary(g, 'Identity', x, 'i1'), 'i2');
      h = unary(g, 'Relu', conv(g, h, 'c1'), 'r1');
      return conv(g, h, 'c2');
    });
    const before = modelToBytes(model);
    const r = transform(model, { patterns: [RemoveIdentity, ConvOnly, ConvRelu] });
    expect(r.conversions).toEqual({ RemoveIdentity: 2 });
    expect(r.matches.map((m) => `${m.pattern.name}:${m.nodes.map((n) => n.name).join('+')}`)).toEqual(['ConvRelu:c1+r1', 'ConvOnly:c2']);
    expect(r.unmatched).toEqual([]);
    expect(Buffer.from(modelToBytes(model)).equals(Buffer.from(before))).toBe(true);
    expect(r.model.graph.nodes.map((n) => n.name)).toEqual(['c1', 'r1', 'c2']);
    // The output name survives even though the last node changed.
    expect(r.model.graph.outputs[0]!.name).toBe(model.graph.outputs[0]!.name);
  });

  it('is deterministic and reports why unmatched nodes were not fused in debug mode', () => {
    const model = graph((g, x) => unary(g, 'Relu', unary(g, 'Sigmoid', x, 's'), 'r'));
    const lines: string[] = [];
    const a = transform(model, { patterns: [ConvRelu], debug: (l) => lines.push(l) });
    const b = transform(model, { patterns: [ConvRelu] });
    expect(a.matches.length).toBe(b.matches.length);
    expect(a.unmatched.map((n) => n.name)).toEqual(['s', 'r']);
    expect(lines.join('\n')).toMatch(/ConvRelu not at Relu "r": Sigmoid "s" is not Conv/);
  });

  it('refuses conversions that never settle', () => {
    const Flip = definePattern({ name: 'Flip', root: op(['Relu', 'Tanh'], [input()]), rewrite: (m) => { m.anchor.opType = m.anchor.opType === 'Relu' ? 'Tanh' : 'Relu'; } });
    expect(() => transform(graph((g, x) => unary(g, 'Relu', x, 'r')), { patterns: [Flip], maxConversionRounds: 5 })).toThrow(/still rewriting after 5 rounds/);
  });
});
