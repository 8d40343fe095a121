import { describe, expect, it } from 'vitest';
import { Graph, Tensor, loadModel } from '../src/index.js';
import { vendored } from './helpers/fixtures.js';

function chain(): { g: Graph; x: ReturnType<Graph['addValue']> } {
  const g = new Graph();
  const x = g.getOrCreateValue('x');
  g.inputs.push(x);
  const a = g.addNode({ opType: 'Relu', inputs: [x], name: 'a' });
  const b = g.addNode({ opType: 'Identity', inputs: [a.output()], name: 'b' });
  const c = g.addNode({ opType: 'Sigmoid', inputs: [b.output()], name: 'c' });
  g.outputs.push(c.output());
  return { g, x };
}

describe('Graph', () => {
  it('tracks producers and consumers through rewiring', () => {
    const { g } = chain();
    const [a, b, c] = g.nodes as [any, any, any];
    expect(a.output().consumers).toEqual([b]);
    c.setInput(0, a.output());
    expect(a.output().consumers).toEqual([b, c]);
    expect(b.output().uses).toEqual([]);
    g.cleanup();
    expect(g.nodes.map((n) => n.name)).toEqual(['a', 'c']);
  });

  it('bypasses pass-through nodes, keeping graph output names', () => {
    const { g } = chain();
    expect(g.bypass(g.nodes[1]!)).toBe(true);
    expect(g.nodes.map((n) => n.name)).toEqual(['a', 'c']);
    expect(g.nodes[1]!.input(0)).toBe(g.nodes[0]!.output());
    // Now bypass the last node, whose output is the graph output.
    const outName = g.outputs[0]!.name;
    expect(g.bypass(g.nodes[1]!)).toBe(true);
    expect(g.outputs[0]!.name).toBe(outName);
    expect(g.outputs[0]!.producer!.name).toBe('a');
  });

  it('toposorts appended nodes after their producers, stably', () => {
    const { g } = chain();
    const first = g.nodes[0]!;
    // Insert a node between a and b, appended at the end of the list.
    const mid = g.addNode({ opType: 'Neg', inputs: [first.output()], name: 'mid' });
    g.nodes[1]!.setInput(0, mid.output());
    g.toposort();
    expect(g.nodes.map((n) => n.name)).toEqual(['a', 'mid', 'b', 'c']);
  });

  it('detects cycles', () => {
    const { g } = chain();
    g.nodes[0]!.setInput(0, g.nodes[2]!.output());
    expect(() => g.toposort()).toThrow(/cycle/);
  });

  it('clones structure without copying tensor data or touching the original', () => {
    const model = loadModel(vendored('fmnist_resnet.onnx'));
    const copy = model.clone();
    const w = model.graph.initializers()[0]!;
    expect(copy.graph.value(w.name)!.initializer).toBe(w.initializer);
    copy.graph.removeNode(copy.graph.nodes[5]!);
    copy.graph.value(w.name)!.initializer = Tensor.fromArray(new Float32Array(1), [1]);
    expect(model.graph.nodes.length).toBe(copy.graph.nodes.length + 1);
    expect(model.graph.value(w.name)!.initializer).toBe(w.initializer);
  });

  it('exposes Constant node values as constants', () => {
    const model = loadModel(vendored('fmnist_mobilenet.onnx'));
    const clip = model.graph.nodesOf('Clip')[0]!;
    expect(clip.input(1)!.constant()!.toFloat32()[0]).toBe(0);
    expect(clip.input(2)!.constant()!.toFloat32()[0]).toBe(6);
  });
});
