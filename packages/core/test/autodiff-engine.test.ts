import { describe, expect, it } from 'vitest';
import { Graph, MissingGradientError, buildGradientGraph, registeredGradients } from '../src/index.js';
import { gradCheck, node } from './helpers/gradcheck.js';

function graph(): { g: Graph; shapes: Map<string, number[]> } {
  const g = new Graph();
  for (const n of ['x', 'w', 'c']) g.inputs.push(g.getOrCreateValue(n));
  return { g, shapes: new Map([['x', [2, 3]], ['w', [2, 3]], ['c', [2, 3]]]) };
}

describe('autodiff engine', () => {
  it('a node without a builder on the path to the loss: MissingGradientError naming op and node, graph untouched', () => {
    const { g, shapes } = graph();
    const cos = g.addNode({ opType: 'Cos', name: 'my_cos', inputs: [g.value('w')!] }).output();
    const loss = node(g, 'ReduceSum', [node(g, 'Mul', [cos, g.value('x')!])], { keepdims: 0 });
    const before = g.nodes.length;
    let err: unknown;
    try { buildGradientGraph(g, { loss: loss.name, wrt: ['w'], shapes }); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(MissingGradientError);
    expect((err as Error).message).toMatch(/Cos node "my_cos"/);
    expect(g.nodes.length).toBe(before);
  });

  it('nodes off the wrt → loss paths are not differentiated (a missing builder there is fine)', () => {
    const { g, shapes } = graph();
    const cos = g.addNode({ opType: 'Cos', name: 'const_side', inputs: [g.value('c')!] }).output(); // no trainable input upstream
    const y = node(g, 'Mul', [g.value('w')!, cos]);
    const side = g.addNode({ opType: 'Sin', name: 'not_to_loss', inputs: [g.value('w')!] }); // never reaches the loss
    g.outputs.push(side.output());
    const loss = node(g, 'ReduceSum', [y], { keepdims: 0 });
    for (const v of [cos, y]) shapes.set(v.name, [2, 3]);
    shapes.set(loss.name, []);
    const { gradients } = buildGradientGraph(g, { loss: loss.name, wrt: ['w'], shapes });
    expect(gradients.get('w')).toBe('w_grad');
    expect(g.outputs.map((o) => o.name)).toContain('w_grad');
    const backward = g.nodes.filter((n) => n.name.includes('_Grad/'));
    expect(backward.length).toBeGreaterThan(0);
    expect(backward.some((n) => n.name.startsWith('const_side') || n.name.startsWith('not_to_loss'))).toBe(false);
  });

  it('a value read by several nodes sums one contribution per reader', async () => {
    const r = await gradCheck({
      inputs: { a: { shape: [2, 3] } },
      build: (g, x) => node(g, 'Add', [node(g, 'Exp', [x.a!]), node(g, 'Mul', [x.a!, node(g, 'Neg', [x.a!])])]),
    });
    expect(r.maxRelError).toBeLessThan(1e-6);
    expect(r.graph.nodes.filter((n) => n.opType === 'Sum').length).toBe(1);
  });

  it('stopGradient cuts a path: d(a · stop(a))/da = a', async () => {
    const { g } = graph();
    const a = g.value('x')!;
    const stopped = node(g, 'Identity', [a]);
    const loss = node(g, 'ReduceSum', [node(g, 'Mul', [a, stopped])], { keepdims: 0 });
    const shapes = new Map<string, number[]>([['x', [2, 3]], [stopped.name, [2, 3]]]);
    buildGradientGraph(g, { loss: loss.name, wrt: ['x'], shapes: new Map([...shapes, [loss.name, []], [g.nodes[1]!.output().name, [2, 3]]]), stopGradient: new Set([stopped.name]) });
    // One contribution only (through Mul's first input): no Sum, and it reads the stopped value.
    expect(g.nodes.some((n) => n.opType === 'Sum')).toBe(false);
    const grad = g.value('x_grad')!.producer!;
    expect(grad.inputs).toContain(stopped);
  });

  it('registers a builder for every op of the issue list', () => {
    const have = new Set(registeredGradients());
    for (const op of ['Conv', 'Gemm', 'MatMul', 'Add', 'Sub', 'Mul', 'Div', 'Relu', 'Clip', 'GlobalAveragePool', 'Flatten', 'Reshape',
      'FakeQuantize', 'SoftmaxCrossEntropyLoss', 'LogSoftmax', 'Softmax', 'ReduceMean', 'ReduceSum', 'Exp', 'Log', 'Neg', 'Identity']) {
      expect(have.has(op), op).toBe(true);
    }
  });
});
