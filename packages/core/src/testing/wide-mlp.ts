// A model over 2 GB for the large-model pipeline test and bench: written layer by layer
// straight to its external data file, so generating it holds one layer in memory.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataType } from '../ir/dtype.js';
import { DataLocation, onnx, type ModelProto, type NodeProto, type TensorProto } from '../onnx/proto.js';

export interface WideMlpOptions {
  /** Hidden width (square MatMul weights). Default 12288: 4 layers are 2.4 GB of FP32. */
  width?: number;
  layers?: number;
  seed?: number;
}

/** Deterministic uniform values in [-scale, scale) (xorshift32), filled in place. */
function fillUniform(out: Float32Array, scale: number, seed: number): void {
  let s = seed | 1;
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32 * 2 - 1) * scale;
  }
}

/**
 * Writes `file` (an ONNX model, opset 17) and `file.data`: input `x` [batch, width] →
 * `layers` × (MatMul with a [width, width] weight → Add bias → Relu) → output `y`.
 * Returns the bytes of weights written.
 */
export function writeWideMlp(file: string, options: WideMlpOptions = {}): number {
  const width = options.width ?? 12288;
  const layers = options.layers ?? 4;
  const location = `${path.basename(file)}.data`;
  const fd = fs.openSync(path.join(path.dirname(file), location), 'w');
  let offset = 0;
  const initializers: TensorProto[] = [];
  const external = (name: string, dims: number[], data: Float32Array): TensorProto => {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    fs.writeSync(fd, bytes, 0, bytes.length, offset);
    const t: TensorProto = {
      name, dims, dataType: DataType.FLOAT, dataLocation: DataLocation.EXTERNAL,
      externalData: [{ key: 'location', value: location }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(bytes.length) }],
    };
    offset = Math.ceil((offset + bytes.length) / 4096) * 4096;
    return t;
  };
  const nodes: NodeProto[] = [];
  let h = 'x';
  try {
    const w = new Float32Array(width * width);
    const b = new Float32Array(width);
    for (let l = 0; l < layers; l++) {
      // He-style scale keeps the activations' range steady through the ReLUs.
      fillUniform(w, Math.sqrt(6 / width), (options.seed ?? 1) + 2 * l);
      fillUniform(b, 0.05, (options.seed ?? 1) + 2 * l + 1);
      initializers.push(external(`fc${l}.weight`, [width, width], w), external(`fc${l}.bias`, [width], b));
      nodes.push({ opType: 'MatMul', name: `fc${l}/MatMul`, input: [h, `fc${l}.weight`], output: [`fc${l}/mm`] });
      const out = l === layers - 1 ? 'y' : `fc${l}/relu`;
      nodes.push({ opType: 'Add', name: `fc${l}/Add`, input: [`fc${l}/mm`, `fc${l}.bias`], output: [`fc${l}/add`] });
      nodes.push({ opType: 'Relu', name: `fc${l}/Relu`, input: [`fc${l}/add`], output: [out] });
      h = out;
    }
  } finally {
    fs.closeSync(fd);
  }
  const io = (name: string) => ({ name, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: width }] } } } });
  const model: ModelProto = {
    irVersion: 8,
    producerName: 'qdeploy-testing',
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'wide_mlp', node: nodes, initializer: initializers, input: [io('x')], output: [io('y')] },
  };
  fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
  return layers * (width * width + width) * 4;
}
