// Core's weight-axis helpers: the output-channel axis of a weight as the node reading it
// uses it, for any backend's `weights: [{ role, axis }]`.
import { describe, expect, it } from 'vitest';
import { constant, definePattern, input, insertQdq, loadModel, op, outputChannelAxis, transform, weightAxisOf, type Node } from '../src/index.js';
import { vendored } from './helpers/fixtures.js';

describe('outputChannelAxis / weightAxisOf', () => {
  it('Conv → 0, ConvTranspose → 1, Gemm → 0 with transB else 1, MatMul → last axis; other ops throw', () => {
    const resnet = loadModel(vendored('fmnist_resnet.onnx'));
    expect(outputChannelAxis(resnet.graph.nodesOf('Conv')[0]!)).toBe(0);
    const gemm = resnet.graph.nodesOf('Gemm')[0]!;
    expect(outputChannelAxis(gemm)).toBe(gemm.attr('transB', 0) ? 0 : 1);
    const vit = loadModel(vendored('fmnist_vit_small.onnx'));
    const matmul = vit.graph.nodesOf('MatMul').find((n) => n.input(1)?.constant())!;
    expect(outputChannelAxis(matmul)).toBe(matmul.input(1)!.constant()!.dims.length - 1);
    expect(outputChannelAxis({ opType: 'ConvTranspose' } as Node)).toBe(1);
    expect(() => outputChannelAxis(resnet.graph.nodesOf('Relu')[0]!)).toThrow(/no known output-channel axis for Relu/);
  });

  it('a pattern declaring weightAxisOf() gets per-channel weight quantizers on the right axis', () => {
    const P = definePattern({ name: 'P', root: op(['Conv', 'Gemm'], [input('input'), constant('weight')]), qdqPoints: ['input'], weights: [{ role: 'weight', axis: weightAxisOf() }] });
    const { model, matches } = transform(loadModel(vendored('fmnist_resnet.onnx')), { patterns: [P] });
    const q = insertQdq(model, matches, { config: { weight: { perChannel: true } } });
    const wq = q.weightQuantizers();
    expect(wq.length).toBe(matches.length);
    for (const w of wq) {
      const reader = w.tensor.consumers[0]!;
      expect(w.axis).toBe(reader.opType === 'Conv' ? 0 : reader.attr('transB', 0) ? 0 : 1);
      expect(w.scale.length).toBe(w.tensor.constant()!.dims[w.axis!]);
    }
  });
});
