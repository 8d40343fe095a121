import * as fs from 'node:fs';
import * as path from 'node:path';
import protobuf from 'protobufjs/light.js';
import { describe, expect, it } from 'vitest';
import { onnx, ONNX_SCHEMA_TAG } from '../src/onnx/proto.js';
import { ONNX_DESCRIPTOR } from '../src/onnx/schema.generated.js';
import {
  DataType, FoldBatchNorm, Graph, Model, RemoveIdentity, Tensor, definePattern, input, insertQdq, loadModel, modelToBytes, op, saveModel, transform,
} from '../src/index.js';
import { tmpDir } from './helpers/fixtures.js';

// A model that sets every field of every message of ONNX's onnx-ml.proto (the test checks
// that against the schema below), with each oneof member used once.

const meta = (k: string) => [{ key: `${k}.key`, value: `${k}.value` }];
const shape = { dim: [{ dimParam: 'N', denotation: 'DATA_BATCH' }, { dimValue: 4 }] };
const INT64_MAX = '9223372036854775807'; // fromObject turns decimal strings into exact int64s
const UINT64_BIG = '18446744073709551615';

/** A small graph used as subgraph / training graph: y = Identity(a). */
const sub = (name: string) => ({
  name,
  input: [{ name: `${name}_a`, type: { tensorType: { elemType: 1, shape } } }],
  node: [{ opType: 'Identity', input: [`${name}_a`], output: [`${name}_y`], name: `${name}_id` }],
  output: [{ name: `${name}_y`, type: { tensorType: { elemType: 1 } } }],
});

const sparse = (name: string) => ({
  values: { name, dims: [2], dataType: 1, floatData: [1.5, -2] },
  indices: { name: `${name}_idx`, dims: [2], dataType: 7, int64Data: [1, 3] },
  dims: [4],
});

const deviceConfiguration = {
  configurationId: 'two-gpus',
  pipelineStage: 1,
  shardingSpec: [{
    tensorName: 'mx',
    device: [0, 1],
    indexToDeviceGroupMap: [{ key: 0, value: [0, 1] }],
    shardedDim: [{ axis: 0, simpleSharding: [{ dimValue: 4, numShards: 2 }, { dimParam: 'N', numShards: 2 }] }],
  }],
};

function everyFieldModel(): Record<string, unknown> {
  const allAttrs = [
    { name: 'f', type: 1, f: 0.25, docString: 'attr doc' },
    { name: 'i', type: 2, i: INT64_MAX },
    { name: 's', type: 3, s: Buffer.from('text') },
    { name: 't', type: 4, t: { dims: [1], dataType: 1, floatData: [3] } },
    { name: 'g', type: 5, g: sub('attr_g') },
    { name: 'sparse', type: 11, sparseTensor: sparse('attr_sparse') },
    { name: 'tp', type: 13, tp: { tensorType: { elemType: 10 } } },
    { name: 'floats', type: 6, floats: [1, 2.5] },
    { name: 'ints', type: 7, ints: [-1, 7] },
    { name: 'strings', type: 8, strings: [Buffer.from('a'), Buffer.from('b')] },
    { name: 'tensors', type: 9, tensors: [{ dims: [1], dataType: 6, int32Data: [9] }] },
    { name: 'graphs', type: 10, graphs: [sub('attr_gs')] },
    { name: 'sparses', type: 12, sparseTensors: [sparse('attr_sparses')] },
    { name: 'tps', type: 14, typeProtos: [{ tensorType: { elemType: 1 } }] },
  ];
  const fn = {
    name: 'MyFunc',
    domain: 'com.example',
    overload: 'v2',
    input: ['a'],
    output: ['b'],
    attribute: ['alpha'],
    attributeProto: [{ name: 'beta', type: 1, f: 2 }],
    node: [{ opType: 'LeakyRelu', input: ['a'], output: ['b'], attribute: [{ name: 'alpha', type: 1, refAttrName: 'alpha' }] }],
    docString: 'function doc',
    opsetImport: [{ domain: '', version: 21 }],
    valueInfo: [{ name: 'b', type: { tensorType: { elemType: 1 } } }],
    metadataProps: meta('function'),
  };
  return {
    irVersion: 13,
    opsetImport: [{ domain: '', version: 21 }, { domain: 'com.example', version: 1 }],
    producerName: 'qdeploy-test',
    producerVersion: '1.0',
    domain: 'ai.qdeploy',
    modelVersion: 3,
    docString: 'model doc',
    metadataProps: meta('model'),
    trainingInfo: [{
      initialization: sub('init'),
      algorithm: sub('algo'),
      initializationBinding: [{ key: 'w', value: 'init_y' }],
      updateBinding: [{ key: 'w', value: 'algo_y' }],
    }],
    functions: [fn],
    configuration: [{ name: 'two-gpus', numDevices: 2, device: ['cuda:0', 'cuda:1'] }],
    graph: {
      name: 'main',
      docString: 'graph doc',
      metadataProps: meta('graph'),
      input: [
        { name: 'x', type: { tensorType: { elemType: 1, shape }, denotation: 'TENSOR' }, docString: 'x doc', metadataProps: meta('x') },
        { name: 'seq', type: { sequenceType: { elemType: { tensorType: { elemType: 1 } } } } },
        { name: 'opt', type: { optionalType: { elemType: { tensorType: { elemType: 1 } } } } },
      ],
      initializer: [
        { name: 'w', dims: [4], dataType: 1, rawData: new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer), docString: 'w doc', metadataProps: meta('w') },
        { name: 'k', dims: [2], dataType: 7, int64Data: [INT64_MAX, -6] },
        { name: 'd', dims: [1], dataType: 11, doubleData: [0.1] },
        { name: 'u', dims: [1], dataType: 13, uint64Data: [UINT64_BIG] },
        { name: 'names', dims: [1], dataType: 8, stringData: [Buffer.from('cat')] },
        { name: 'seg', dims: [2], dataType: 1, floatData: [5, 6], segment: { begin: 0, end: 2 } },
        { name: 'ext', dims: [1], dataType: 1, dataLocation: 0, externalData: [{ key: 'checksum', value: 'none' }], floatData: [1] },
      ],
      sparseInitializer: [sparse('sp_init')],
      node: [
        {
          opType: 'Mul', input: ['x', 'w'], output: ['mx'], name: 'mul', docString: 'node doc',
          metadataProps: [{ key: 'pkg.torch.onnx.stack_trace', value: 'model.py:12' }, { key: 'namespace', value: 'mul: aten.mul.Tensor' }],
          deviceConfigurations: [deviceConfiguration],
        },
        { opType: 'MyFunc', domain: 'com.example', overload: 'v2', input: ['mx'], output: ['f'], name: 'call', metadataProps: meta('call') },
        { opType: 'AllAttrs', domain: 'com.example', input: ['f', 'k', 'd', 'u', 'names', 'seg', 'ext'], output: ['z'], name: 'attrs', attribute: allAttrs },
      ],
      valueInfo: [
        { name: 'mx', type: { tensorType: { elemType: 1, shape } }, docString: 'mx doc', metadataProps: meta('mx') },
        { name: 'f', type: { mapType: { keyType: 7, valueType: { tensorType: { elemType: 1 } } } } },
        { name: 'sparse_info', type: { sparseTensorType: { elemType: 1, shape } } },
        { name: 'opaque_info', type: { opaqueType: { domain: 'com.example', name: 'Blob' } } },
      ],
      quantizationAnnotation: [{ tensorName: 'mx', quantParameterTensorNames: [{ key: 'SCALE_TENSOR', value: 'w' }] }],
      output: [{ name: 'z', type: { tensorType: { elemType: 1 } }, metadataProps: meta('z') }],
    },
  };
}

const root = protobuf.Root.fromJSON(ONNX_DESCRIPTOR);

/** Every `Message.field` of the schema, and the ones `obj` sets (walking nested messages). */
function fieldsOf(type: protobuf.Type, obj: Record<string, unknown>, seen: Set<string>): void {
  for (const f of type.fieldsArray) {
    const v = obj[f.name];
    if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) continue;
    seen.add(`${type.fullName}.${f.name}`);
    if (f.resolvedType instanceof protobuf.Type) for (const x of Array.isArray(v) ? v : [v]) fieldsOf(f.resolvedType, x as Record<string, unknown>, seen);
  }
}
function allFields(ns: protobuf.NamespaceBase, out: string[] = []): string[] {
  for (const o of ns.nestedArray) {
    if (o instanceof protobuf.Type) out.push(...o.fieldsArray.map((f) => `${o.fullName}.${f.name}`));
    if (o instanceof protobuf.Namespace || o instanceof protobuf.Type) allFields(o, out);
  }
  return out;
}

const encode = (obj: Record<string, unknown>) => onnx.ModelProto.encode(onnx.ModelProto.fromObject(obj)).finish();
const canonical = (bytes: Uint8Array) => onnx.ModelProto.toObject(onnx.ModelProto.decode(bytes), { longs: String, bytes: String, arrays: true });

describe(`ONNX schema (${ONNX_SCHEMA_TAG})`, () => {
  it('the test model sets every field of every message in onnx-ml.proto', () => {
    root.resolveAll();
    const seen = new Set<string>();
    fieldsOf(root.lookupType('onnx.ModelProto'), onnx.ModelProto.toObject(onnx.ModelProto.decode(encode(everyFieldModel())), { longs: String, bytes: String, arrays: false }), seen);
    const schema = allFields(root.lookup('onnx') as protobuf.Namespace);
    // Fields added after ONNX 1.10 (the schema onnx-proto 8 carried) are part of it.
    expect(schema).toEqual(expect.arrayContaining(['.onnx.NodeProto.metadataProps', '.onnx.FunctionProto.overload', '.onnx.GraphProto.metadataProps', '.onnx.ModelProto.configuration', '.onnx.AttributeProto.refAttrName', '.onnx.TensorProto.metadataProps']));
    expect(schema.filter((f) => !seen.has(f))).toEqual([]);
  });

  it('load → save is byte-identical and field-identical on it', () => {
    const bytes = encode(everyFieldModel());
    const model = loadModel(bytes, { name: 'every-field.onnx' });
    const out = modelToBytes(model);
    expect(canonical(out)).toEqual(canonical(bytes));
    expect(Buffer.from(out).equals(Buffer.from(bytes))).toBe(true);
  });

  it('the IR exposes the fields added since ONNX 1.10 and keeps them through clone', () => {
    const model = loadModel(encode(everyFieldModel()), { name: 'every-field.onnx' }).clone();
    const mul = model.graph.nodes.find((n) => n.name === 'mul')!;
    expect(mul.passthrough.metadataProps).toEqual([{ key: 'pkg.torch.onnx.stack_trace', value: 'model.py:12' }, { key: 'namespace', value: 'mul: aten.mul.Tensor' }]);
    expect(mul.passthrough.deviceConfigurations?.[0]?.configurationId).toBe('two-gpus');
    expect(model.graph.nodes.find((n) => n.name === 'call')!.passthrough.overload).toBe('v2');
    expect(model.graph.passthrough.metadataProps).toEqual(meta('graph'));
    expect(model.graph.value('mx')!.passthrough.metadataProps).toEqual(meta('mx'));
    expect(model.graph.value('z')!.passthrough.metadataProps).toEqual(meta('z'));
    expect(model.header.functions?.[0]?.overload).toBe('v2');
    expect(model.header.configuration?.[0]?.numDevices).toBe(2);
    // int64 beyond 2^53 stays exact.
    expect(String(model.graph.nodes.find((n) => n.name === 'attrs')!.attributes.get('i')!.i)).toBe('9223372036854775807');
    expect(model.graph.value('k')!.initializer!.data()[0]).toBe(9223372036854775807n);
  });

  it('keeps fields a newer schema adds (unknown to this one) on every message the IR rebuilds', () => {
    // A "future" schema: this one plus fields 1000+ on the messages the IR takes apart.
    const future = structuredClone(ONNX_DESCRIPTOR) as { nested: { onnx: { nested: Record<string, { fields: Record<string, unknown> }> } } };
    const types = future.nested.onnx.nested;
    const extra = { futureText: { type: 'string', id: 1000 }, futureInt: { type: 'int64', id: 1001 }, futureFloat: { type: 'float', id: 1002 }, futureDouble: { type: 'double', id: 1003 }, futureEntry: { type: 'StringStringEntryProto', id: 1004 } };
    for (const t of ['ModelProto', 'GraphProto', 'NodeProto', 'ValueInfoProto', 'TensorProto', 'AttributeProto', 'FunctionProto']) Object.assign(types[t]!.fields, extra);
    const Future = protobuf.Root.fromJSON(future as protobuf.INamespace).lookupType('onnx.ModelProto');
    const stamp = (o: Record<string, unknown>, tag: string) => Object.assign(o, { futureText: tag, futureInt: -5, futureFloat: 0.5, futureDouble: 1e300, futureEntry: { key: tag, value: 'v' } });
    const m = everyFieldModel() as Record<string, any>;
    stamp(m, 'model');
    stamp(m.graph, 'graph');
    stamp(m.graph.node[0], 'node');
    stamp(m.graph.input[0], 'input');
    stamp(m.graph.output[0], 'output');
    stamp(m.graph.valueInfo[0], 'value_info');
    stamp(m.graph.initializer[0], 'tensor');
    stamp(m.graph.node[2].attribute[0], 'attribute');
    stamp(m.functions[0], 'function');
    const bytes = Future.encode(Future.fromObject(m)).finish();

    const model = loadModel(bytes, { name: 'future.onnx' });
    // Through the passes that clone and rebuild the graph, too.
    const out = modelToBytes(transform(model, { patterns: [RemoveIdentity] }).model);
    expect(Future.toObject(Future.decode(out), { longs: String, bytes: String })).toEqual(Future.toObject(Future.decode(bytes), { longs: String, bytes: String }));
    expect(Buffer.from(out).equals(Buffer.from(bytes))).toBe(true);
    const back = Future.toObject(Future.decode(out), { longs: String }) as Record<string, any>;
    expect(back.futureText).toBe('model');
    expect(back.graph.futureText).toBe('graph');
    expect(back.graph.node[0].futureText).toBe('node');
    expect(back.graph.node[0].futureEntry).toEqual({ key: 'node', value: 'v' });
    expect(back.graph.input[0].futureInt).toBe('-5');
    expect(back.graph.output[0].futureFloat).toBe(0.5);
    expect(back.graph.valueInfo[0].futureDouble).toBe(1e300);
    expect(back.graph.initializer[0].futureText).toBe('tensor');
    expect(back.graph.node[2].attribute[0].futureText).toBe('attribute');
    expect(back.functions[0].futureText).toBe('function');
  });
});

describe('metadata through the pipeline', () => {
  it('node, value and graph metadata survive transform, insertQdq and the QDQ export where the node survives', async () => {
    const g = new Graph();
    g.name = 'net';
    const x = g.getOrCreateValue('x');
    x.type = { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }, { dimValue: 2 }, { dimValue: 4 }, { dimValue: 4 }] } } };
    x.passthrough = { metadataProps: meta('x') };
    g.inputs.push(x);
    const f = (n: number, v: number) => Tensor.fromArray(new Float32Array(n).fill(v), [n]);
    const w = g.addInitializer('w', Tensor.fromArray(new Float32Array(2 * 2 * 3 * 3).fill(0.1), [2, 2, 3, 3]));
    const conv = g.addNode({ opType: 'Conv', name: 'conv', inputs: [x, w], attrs: { pads: [1, 1, 1, 1] } });
    conv.passthrough = { metadataProps: [{ key: 'pkg.torch.onnx.stack_trace', value: 'net.py:3' }] };
    const bn = g.addNode({ opType: 'BatchNormalization', name: 'bn', inputs: [conv.output(), ...[f(2, 1), f(2, 0), f(2, 0), f(2, 1)].map((t, i) => g.addInitializer(`bn${i}`, t))] });
    bn.passthrough = { metadataProps: meta('bn') };
    const relu = g.addNode({ opType: 'Relu', name: 'relu', inputs: [bn.output()] });
    relu.passthrough = { metadataProps: meta('relu'), overload: '' };
    g.outputs.push(relu.output());
    g.passthrough = { metadataProps: meta('graph') };
    const model = new Model(g, { irVersion: 10, opsetImport: [{ domain: '', version: 17 }], metadataProps: meta('model') });

    const ConvRelu = definePattern({ name: 'ConvRelu', root: op('Relu', [op('Conv', [input('input'), input('weight')]).as('conv')]).as('act'), qdqPoints: ['input'] });
    const t = transform(model, { patterns: [FoldBatchNorm, ConvRelu] });
    expect(t.model.graph.nodes.map((n) => n.opType)).toEqual(['Conv', 'Relu']);
    const q = insertQdq(t.model, t.matches);
    const file = path.join(tmpDir(), 'q.onnx');
    await saveModel(q.toExportModel({ quiet: true }), file);
    const back = onnx.ModelProto.decode(fs.readFileSync(file));
    const byName = new Map(back.graph!.node!.map((n) => [n.name, n]));
    expect(byName.get('conv')!.metadataProps).toEqual([{ key: 'pkg.torch.onnx.stack_trace', value: 'net.py:3' }]);
    expect(byName.get('relu')!.metadataProps).toEqual(meta('relu'));
    expect(byName.has('bn')).toBe(false);
    expect(back.graph!.metadataProps).toEqual(meta('graph'));
    expect(back.graph!.input![0]!.metadataProps).toEqual(meta('x'));
    expect(back.metadataProps).toEqual(expect.arrayContaining(meta('model')));
    expect(back.graph!.node!.some((n) => n.opType === 'QuantizeLinear')).toBe(true);
  });
});

describe('FLOAT8, INT4 and the other narrow types', () => {
  // [type, raw bytes, dims, decoded values]
  const cases: [keyof typeof DataType, number[], number[], number[]][] = [
    ['FLOAT8E4M3FN', [0x00, 0x38, 0x7e, 0xfe, 0x01], [5], [0, 1, 448, -448, 2 ** -9]],
    ['FLOAT8E4M3FNUZ', [0x00, 0x40, 0x7f, 0xff, 0x01], [5], [0, 1, 240, -240, 2 ** -10]],
    ['FLOAT8E5M2', [0x00, 0x3c, 0x7b, 0x7c, 0xfc], [5], [0, 1, 57344, Infinity, -Infinity]],
    ['FLOAT8E5M2FNUZ', [0x00, 0x40, 0x7f, 0xff, 0x01], [5], [0, 1, 57344, -57344, 2 ** -17]],
    ['FLOAT8E8M0', [0x7f, 0x80, 0x00, 0xfe], [4], [1, 2, 2 ** -127, 2 ** 127]],
    ['INT4', [0xf1, 0x87, 0x03], [5], [1, -1, 7, -8, 3]],
    ['UINT4', [0xf1, 0x87, 0x03], [5], [1, 15, 7, 8, 3]],
    ['FLOAT4E2M1', [0x21, 0xf7], [4], [0.5, 1, 6, -6]],
    ['INT2', [0b11100100, 0b01], [5], [0, 1, -2, -1, 1]],
    ['UINT2', [0b11100100, 0b01], [5], [0, 1, 2, 3, 1]],
  ];

  it.each(cases)('%s: decodes to float32 and round-trips byte for byte, raw_data or int32_data', (name, raw, dims, values) => {
    const dataType = DataType[name];
    const viaRaw = Tensor.fromProto({ dims, dataType, rawData: Uint8Array.from(raw) });
    expect(Array.from(viaRaw.toFloat32())).toEqual(values);
    expect(viaRaw.byteLength).toBe(raw.length);
    // int32_data holds one stored byte per entry (a packed pair or quad for the 4- and 2-bit types).
    const viaTyped = Tensor.fromProto({ dims, dataType, int32Data: raw });
    expect(Array.from(viaTyped.toFloat32())).toEqual(values);

    const proto = {
      irVersion: 11, opsetImport: [{ domain: '', version: 23 }],
      graph: {
        name: 'g',
        initializer: [{ name: 'a', dims, dataType, rawData: Uint8Array.from(raw) }, { name: 'b', dims, dataType, int32Data: raw }],
        node: [{ opType: 'Concat', input: ['a', 'b'], output: ['y'], attribute: [{ name: 'axis', type: 2, i: 0 }] }],
        output: [{ name: 'y', type: { tensorType: { elemType: dataType } } }],
      },
    };
    const bytes = encode(proto);
    const model = loadModel(bytes);
    expect(Buffer.from(modelToBytes(model)).equals(Buffer.from(bytes))).toBe(true);
    // A tensor rebuilt from its bytes (as a pass that replaced it would) encodes the same data.
    const rebuilt = Tensor.fromArray(viaRaw.data(), dims, dataType);
    expect(Array.from(rebuilt.rawBytes())).toEqual(raw);
  });

  it('saves narrow-type weights to external data and reads them back unchanged', async () => {
    const n = 3000;
    const fp8 = Uint8Array.from({ length: n }, (_, i) => (i * 37) & 0xff);
    const int4 = Uint8Array.from({ length: n / 2 }, (_, i) => (i * 11) & 0xff);
    const g = new Graph();
    g.name = 'g';
    const a = g.addInitializer('a', Tensor.fromArray(fp8, [n], DataType.FLOAT8E4M3FN));
    const b = g.addInitializer('b', Tensor.fromArray(int4, [n], DataType.INT4));
    const y = g.addNode({ opType: 'Concat', inputs: [a, b], attrs: { axis: 0 } }).output();
    g.outputs.push(y);
    const dir = tmpDir();
    await saveModel(new Model(g, { irVersion: 11, opsetImport: [{ domain: '', version: 23 }] }), path.join(dir, 'm.onnx'), { externalData: { threshold: 1024 } });
    const back = loadModel(path.join(dir, 'm.onnx'));
    const ta = back.graph.value('a')!.initializer!;
    const tb = back.graph.value('b')!.initializer!;
    expect(ta.isExternal && tb.isExternal).toBe(true);
    expect(Buffer.from(ta.rawBytes()).equals(Buffer.from(fp8))).toBe(true);
    expect(Buffer.from(tb.rawBytes()).equals(Buffer.from(int4))).toBe(true);
    expect(tb.byteLength).toBe(n / 2);
  });
});
