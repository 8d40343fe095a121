// Shape arithmetic made constant before differentiation: torchvision's attention slices its
// packed q/k/v projection at offsets computed from Shape, and a Slice's gradient needs its
// starts as constants.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { DataType, Graph, Model, Tensor, buildGradientGraph, modelToBytes, replaceWithConstants, shapeComputedValues, staticShapes } from '../src/index.js';
import { node } from './helpers/gradcheck.js';

/** y = Slice(x, [E/3·k], [E/3·(k+1)], [1]) with E = Shape(x)[1], as torchvision exports the q/k/v split; loss = Σ y·y. */
function packedSlice(k: number) {
  const g = new Graph();
  const x = g.getOrCreateValue('x');
  x.type = { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimValue: 2 }, { dimValue: 6 }] } } };
  g.inputs.push(x);
  const int64 = (name: string, v: number[]) => g.addInitializer(name, Tensor.fromArray(BigInt64Array.from(v.map(BigInt)), [v.length]));
  const e = node(g, 'Gather', [node(g, 'Shape', [x]), int64('one', [1])]);
  const third = node(g, 'Div', [e, int64('three', [3])]);
  const start = node(g, 'Mul', [third, int64('k', [k])]);
  const end = node(g, 'Mul', [third, int64('k1', [k + 1])]);
  const y = node(g, 'Slice', [x, start, end, int64('axes', [1])]);
  const loss = node(g, 'ReduceSum', [node(g, 'Mul', [y, y])], { keepdims: 0 });
  g.outputs.push(loss);
  return { g, x, loss };
}

describe('autodiff: shape arithmetic as constants', () => {
  it('the Shape → Gather → Div → Mul bounds of a Slice become constants, and its gradient builds and is right', async () => {
    const { g, loss } = packedSlice(1);
    const frontier = shapeComputedValues(g);
    const slice = g.nodes.find((n) => n.opType === 'Slice')!;
    expect([...frontier].sort()).toEqual([slice.input(1)!.name, slice.input(2)!.name].sort());
    const data = Float32Array.from({ length: 12 }, (_, i) => i + 1);
    const feeds = { x: new ort.Tensor('float32', data, [2, 6]) };
    // Before: the builder refuses computed starts, naming the node.
    const opsetImport = [{ domain: '', version: 17 }];
    const m0 = new Model(g.clone(), { irVersion: 8, opsetImport });
    const shapes0 = await staticShapes(m0, feeds);
    expect(() => buildGradientGraph(m0.graph, { loss: loss.name, wrt: ['x'], shapes: shapes0 })).toThrow(/Slice node .* has computed starts/);

    const model = new Model(g, { irVersion: 8, opsetImport });
    const captured = new Map<string, Tensor>();
    const shapes = await staticShapes(model, feeds, { names: frontier, captured });
    replaceWithConstants(model.graph, captured);
    expect(slice.input(1)!.constant()!.toNumbers()).toEqual([2]);
    expect(slice.input(2)!.constant()!.toNumbers()).toEqual([4]);
    expect(model.graph.nodes.map((n) => n.opType)).not.toContain('Shape'); // what computed them is gone
    const { gradients } = buildGradientGraph(model.graph, { loss: loss.name, wrt: ['x'], shapes });
    model.graph.outputs.push(model.graph.value(gradients.get('x')!)!);
    const s = await ort.InferenceSession.create(modelToBytes(model));
    const dx = (await s.run(feeds))[gradients.get('x')!]!.data as Float32Array;
    // d(Σ y²)/dx = 2x on columns 2 and 3, 0 elsewhere.
    expect(Array.from(dx)).toEqual(Array.from(data, (v, i) => (i % 6 === 2 || i % 6 === 3 ? 2 * v : 0)));
  });

  it('values that depend on data or on a fed weight are not shape arithmetic', () => {
    const g = new Graph();
    const x = g.getOrCreateValue('x');
    const w = g.getOrCreateValue('w');
    g.inputs.push(x, w);
    const c = g.addInitializer('c', Tensor.fromArray(new Float32Array([2]), []));
    const fromData = node(g, 'Mul', [x, c]);
    const fromWeight = node(g, 'Abs', [w]);
    const fromShape = node(g, 'Shape', [fromData]);
    const y = node(g, 'Reshape', [node(g, 'Add', [fromData, fromWeight]), fromShape]);
    g.outputs.push(y);
    expect([...shapeComputedValues(g)]).toEqual([fromShape.name]);
  });
});
