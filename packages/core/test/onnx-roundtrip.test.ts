import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { onnx } from '../src/onnx/proto.js';
import { loadModel, modelToBytes, saveModel, OnnxFormatError, Tensor, DataType } from '../src/index.js';
import { tmpDir, vendored } from './helpers/fixtures.js';
import { canonical } from './helpers/onnx-canonical.js';

const models = ['fmnist_resnet.onnx', 'fmnist_resnet_bn.onnx', 'fmnist_mobilenet_bn.onnx', 'fmnist_vit_small.onnx'];

describe('ONNX load → save → load', () => {
  for (const name of models) {
    it(`is lossless on ${name}`, async () => {
      const file = vendored(name);
      const original = fs.readFileSync(file);
      const model = loadModel(file);
      const out = path.join(tmpDir(), name);
      await saveModel(model, out);
      expect(canonical(fs.readFileSync(out))).toEqual(canonical(original));
    });
  }

  it('keeps value_info, metadata, doc strings, typed-field tensors and subgraphs', async () => {
    // Hand-built proto exercising fields the PyTorch fixtures do not use.
    const body = { name: 'body', node: [{ opType: 'Add', input: ['outer_x', 'outer_x'], output: ['y'] }], output: [{ name: 'y' }] };
    const proto = {
      irVersion: 8,
      producerName: 'test',
      docString: 'model doc',
      opsetImport: [{ domain: '', version: 17 }, { domain: 'com.example', version: 1 }],
      metadataProps: [{ key: 'author', value: 'qdeploy' }],
      graph: {
        name: 'g',
        docString: 'graph doc',
        input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimValue: 4 }] } } } }],
        initializer: [
          { name: 'w', dims: [4], dataType: 1, floatData: [1, 2, 3, 4] },
          { name: 'k', dims: [2], dataType: 7, int64Data: [5, -6] },
          { name: 'cond', dims: [], dataType: 9, int32Data: [1] },
        ],
        node: [
          { opType: 'Mul', input: ['x', 'w'], output: ['outer_x'], name: 'mul', docString: 'node doc' },
          { opType: 'If', input: ['cond'], output: ['z'], name: 'if', attribute: [
            { name: 'then_branch', type: 5, g: body },
            { name: 'else_branch', type: 5, g: body },
          ] },
        ],
        valueInfo: [{ name: 'outer_x', type: { tensorType: { elemType: 1 } }, docString: 'vi doc' }],
        output: [{ name: 'z', type: { tensorType: { elemType: 1 } } }],
      },
    };
    const bytes = onnx.ModelProto.encode(onnx.ModelProto.fromObject(proto)).finish();
    const model = loadModel(bytes, { name: 'hand.onnx' });
    // The If node reads outer_x by name inside its branches: it must count as a consumer.
    const ifNode = model.graph.nodes.find((n) => n.opType === 'If')!;
    expect(ifNode.implicitInputs.map((v) => v.name)).toEqual(['outer_x']);
    expect(Array.from(model.graph.value('w')!.initializer!.toFloat32())).toEqual([1, 2, 3, 4]);
    expect(model.graph.value('k')!.initializer!.toNumbers()).toEqual([5, -6]);
    expect(canonical(modelToBytes(model))).toEqual(canonical(bytes));
    // cleanup keeps the Mul that only the If's branches read, and drops the unused initializer k.
    model.graph.cleanup();
    expect(model.graph.nodes.map((n) => n.name)).toEqual(['mul', 'if']);
    expect(model.graph.value('k')).toBeUndefined();
  });
});

describe('external data', () => {
  it('saves weights to a side file when asked and loads them back lazily', async () => {
    const dir = tmpDir();
    const model = loadModel(vendored('fmnist_resnet.onnx'));
    const out = path.join(dir, 'ext.onnx');
    await saveModel(model, out, { externalData: true });
    expect(fs.existsSync(path.join(dir, 'ext.onnx.data'))).toBe(true);
    expect(fs.statSync(out).size).toBeLessThan(100_000);
    const back = loadModel(out);
    const big = back.graph.initializers().filter((v) => v.initializer!.isExternal);
    expect(big.length).toBeGreaterThan(10);
    for (const v of model.graph.initializers()) {
      expect(Array.from(back.graph.value(v.name)!.initializer!.toFloat32())).toEqual(Array.from(v.initializer!.toFloat32()));
    }
    // A copy to modify, straight from the side file, leaves the tensor as it was.
    const w = loadModel(out).graph.initializers().find((v) => v.initializer!.isExternal && v.initializer!.dataType === DataType.FLOAT)!.initializer!;
    const copy = w.toFloat32Copy();
    const original = Array.from(copy);
    copy.fill(7);
    expect(Array.from(w.toFloat32())).toEqual(original);
    expect(Array.from(w.toFloat32Copy())).toEqual(original);
    // Inline again: identical to the original.
    const inline = path.join(dir, 'inline.onnx');
    await saveModel(back, inline);
    expect(canonical(fs.readFileSync(inline))).toEqual(canonical(fs.readFileSync(vendored('fmnist_resnet.onnx'))));
  });

  it.each([
    ['../secret.bin', /escapes the model's folder/],
    ['/etc/passwd', /absolute path/],
    ['missing.bin', /not found/],
  ])('refuses external data location %s', (location, why) => {
    const proto = {
      irVersion: 8, opsetImport: [{ version: 17 }],
      graph: {
        node: [{ opType: 'Identity', input: ['w'], output: ['y'] }],
        initializer: [{ name: 'w', dims: [1], dataType: 1, dataLocation: 1, externalData: [{ key: 'location', value: location }] }],
        output: [{ name: 'y' }],
      },
    };
    const dir = tmpDir();
    const file = path.join(dir, 'evil.onnx');
    fs.writeFileSync(file, onnx.ModelProto.encode(onnx.ModelProto.fromObject(proto)).finish());
    expect(() => loadModel(file)).toThrow(why);
    expect(() => loadModel(file)).toThrow(/evil\.onnx: tensor "w"/);
  });

  it('refuses a symlink inside the folder that points outside it', () => {
    const dir = tmpDir();
    const outside = tmpDir();
    fs.writeFileSync(path.join(outside, 'w.bin'), Buffer.alloc(4));
    fs.symlinkSync(path.join(outside, 'w.bin'), path.join(dir, 'w.bin'));
    const proto = {
      irVersion: 8, opsetImport: [{ version: 17 }],
      graph: {
        node: [{ opType: 'Identity', input: ['w'], output: ['y'] }],
        initializer: [{ name: 'w', dims: [1], dataType: 1, dataLocation: 1, externalData: [{ key: 'location', value: 'w.bin' }] }],
        output: [{ name: 'y' }],
      },
    };
    fs.writeFileSync(path.join(dir, 'm.onnx'), onnx.ModelProto.encode(onnx.ModelProto.fromObject(proto)).finish());
    expect(() => loadModel(path.join(dir, 'm.onnx'))).toThrow(/links outside/);
  });
});

describe('bad files', () => {
  it('names the file and the problem, never a raw protobuf trace', () => {
    const dir = tmpDir();
    const bytes = fs.readFileSync(vendored('fmnist_resnet.onnx'));
    const cases: [string, Uint8Array | string][] = [
      ['empty.onnx', new Uint8Array()],
      ['truncated.onnx', bytes.subarray(0, Math.floor(bytes.length / 3))],
      ['text.onnx', 'hello, this is not a model\n'],
      ['noise.onnx', Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24)],
    ];
    for (const [name, data] of cases) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, data);
      let err: unknown;
      try {
        loadModel(file);
      } catch (e) {
        err = e;
      }
      expect(err, name).toBeInstanceOf(OnnxFormatError);
      expect((err as Error).message).toContain(file);
    }
    expect(() => loadModel(path.join(dir, 'nope.onnx'))).toThrow(/nope\.onnx: no such file/);
  });

  it('never overwrites the input model', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'm.onnx');
    fs.copyFileSync(vendored('fmnist_resnet.onnx'), file);
    const before = fs.readFileSync(file);
    const model = loadModel(file);
    await expect(saveModel(model, file)).rejects.toThrow(/input model/);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });
});

describe('Tensor', () => {
  it('decodes typed fields and raw data alike', () => {
    const t = Tensor.fromArray(new Float32Array([1.5, -2]), [2]);
    expect(t.dataType).toBe(DataType.FLOAT);
    expect(Array.from(Tensor.fromProto({ dims: [2], dataType: 1, rawData: t.rawBytes() }).toFloat32())).toEqual([1.5, -2]);
  });

  it('toFloat32Copy: a copy to modify, from raw data at any alignment, from typed fields and other types', () => {
    const values = new Float32Array([1.5, -2, 3.25]);
    const bytes = new Uint8Array(values.buffer);
    for (const offset of [0, 1, 2, 3]) {
      const raw = new Uint8Array(12 + offset);
      raw.set(bytes, offset);
      const t = Tensor.fromProto({ dims: [3], dataType: DataType.FLOAT, rawData: raw.subarray(offset) });
      const copy = t.toFloat32Copy();
      expect(Array.from(copy)).toEqual([1.5, -2, 3.25]);
      copy[0] = 99;
      expect(Array.from(t.toFloat32())).toEqual([1.5, -2, 3.25]); // the tensor is unchanged
      expect(t.toFloat32Copy()).not.toBe(t.toFloat32()); // a copy after decoding too
    }
    const typed = Tensor.fromProto({ dims: [2], dataType: DataType.FLOAT, floatData: [4, 5] });
    expect(Array.from(typed.toFloat32Copy())).toEqual([4, 5]);
    const fromArray = Tensor.fromArray(values, [3]);
    const c = fromArray.toFloat32Copy();
    c[1] = 0;
    expect(values[1]).toBe(-2);
    expect(Array.from(Tensor.fromArray(new Int8Array([-3, 7]), [2]).toFloat32Copy())).toEqual([-3, 7]);
    expect(() => Tensor.fromProto({ dims: [4], dataType: DataType.FLOAT, rawData: bytes }).toFloat32Copy()).toThrow(/12 bytes, expected 16/);
  });
});
