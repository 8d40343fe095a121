import { describe, expect, it } from 'vitest';
import { assertValidModel, loadModel, validateModel } from '../src/index.js';
import { onnx } from '../src/onnx/proto.js';
import { vendored } from './helpers/fixtures.js';

const f32 = { tensorType: { elemType: 1 } };
/** A minimal valid model: y = QDQ(x) with the given overrides. */
function model(over: { nodes?: object[]; inits?: object[]; opset?: number; inputs?: object[]; outputs?: object[] } = {}) {
  return onnx.ModelProto.fromObject({
    irVersion: 8,
    opsetImport: [{ domain: '', version: over.opset ?? 17 }],
    graph: {
      input: over.inputs ?? [{ name: 'x', type: f32 }],
      initializer: over.inits ?? [
        { name: 's', dims: [], dataType: 1, floatData: [0.1] },
        { name: 'z', dims: [], dataType: 3, int32Data: [0] },
      ],
      node: over.nodes ?? [
        { opType: 'QuantizeLinear', name: 'q', input: ['x', 's', 'z'], output: ['xq'] },
        { opType: 'DequantizeLinear', name: 'dq', input: ['xq', 's', 'z'], output: ['y'] },
      ],
      output: over.outputs ?? [{ name: 'y', type: f32 }],
    },
  });
}

describe('validateModel (onnx.checker-style structure checks)', () => {
  it('accepts the fixtures and a minimal QDQ model', () => {
    for (const f of ['fmnist_resnet_bn.onnx', 'fmnist_mobilenet.onnx', 'fmnist_vit_small.onnx']) expect(validateModel(loadModel(vendored(f)))).toEqual([]);
    expect(validateModel(model())).toEqual([]);
  });

  it.each([
    ['nodes out of order', { nodes: [
      { opType: 'DequantizeLinear', name: 'dq', input: ['xq', 's', 'z'], output: ['y'] },
      { opType: 'QuantizeLinear', name: 'q', input: ['x', 's', 'z'], output: ['xq'] },
    ] }, /"dq" reads "xq" before anything defines it/],
    ['two producers', { nodes: [
      { opType: 'Relu', name: 'a', input: ['x'], output: ['y'] },
      { opType: 'Relu', name: 'b', input: ['x'], output: ['y'] },
    ] }, /"b" writes "y", which is already defined/],
    ['untyped output', { outputs: [{ name: 'y' }] }, /graph output "y" has no type/],
    ['float zero point', { inits: [
      { name: 's', dims: [], dataType: 1, floatData: [0.1] },
      { name: 'z', dims: [], dataType: 1, floatData: [0] },
    ] }, /zero point "z" is not int8 or uint8/],
    ['per-channel at opset 12', { opset: 12, inits: [
      { name: 's', dims: [2], dataType: 1, floatData: [0.1, 0.2] },
      { name: 'z', dims: [2], dataType: 3, int32Data: [0, 0] },
    ] }, /per-channel scale needs opset 13/],
    ['short tensor data', { inits: [
      { name: 's', dims: [3], dataType: 1, floatData: [0.1] },
      { name: 'z', dims: [], dataType: 3, int32Data: [0] },
    ] }, /initializer "s": holds 1 values, dims \[3\] need 3/],
    ['unknown domain', { nodes: [{ opType: 'Foo', domain: 'com.example', input: ['x'], output: ['y'] }] }, /uses domain "com.example", which opset_import does not list/],
  ])('reports %s', (_name, over, why) => {
    const problems = validateModel(model(over as never));
    expect(problems.join('\n')).toMatch(why);
    expect(() => assertValidModel(model(over as never), 'm.onnx')).toThrow(/m\.onnx is not a valid ONNX model/);
  });
});
