// Hostile variants of the small fixture model, made by editing its protobuf (not a test file).
import fs from 'node:fs';
import { onnx, type ModelProto, type TensorProto } from '../../src/onnx/proto.js';
import { MOBILENET_BN } from '../fixtures/cli/helpers.js';

/** The MobileNet fixture (opset ≥ 13, BN, 28×28 Fashion-MNIST input) as an editable proto. */
export function fixtureProto(): ModelProto {
  return onnx.ModelProto.decode(fs.readFileSync(MOBILENET_BN)) as ModelProto;
}

export function writeProto(file: string, proto: ModelProto): string {
  fs.writeFileSync(file, onnx.ModelProto.encode(proto).finish());
  return file;
}

/** The fixture with `edit` applied, written to `file`. */
export function variant(file: string, edit: (m: ModelProto) => void): string {
  const m = fixtureProto();
  edit(m);
  return writeProto(file, m);
}

/** The first 4-D float initializer (a conv weight). */
export function convWeight(m: ModelProto): TensorProto {
  const t = m.graph!.initializer!.find((i) => (i.dims ?? []).length === 4 && i.dataType === onnx.TensorProto.DataType.FLOAT);
  if (!t) throw new Error('fixture has no conv weight');
  return t;
}

/** Sets element 0 of a float initializer (raw or float_data). */
export function setFirstValue(t: TensorProto, v: number): void {
  if (t.rawData && t.rawData.length >= 4) {
    const copy = Buffer.from(t.rawData);
    copy.writeFloatLE(v, 0);
    t.rawData = copy;
  } else if (t.floatData && t.floatData.length > 0) {
    t.floatData[0] = v;
  } else throw new Error('tensor has no data');
}

/** Sets the default-domain opset. */
export function setOpset(m: ModelProto, version: number): void {
  for (const o of m.opsetImport ?? []) if (!o.domain) o.version = version;
}

/** Renames the graph's first input everywhere it is read. */
export function renameInput(m: ModelProto, name: string): void {
  const old = m.graph!.input![0]!.name!;
  m.graph!.input![0]!.name = name;
  for (const n of m.graph!.node!) n.input = (n.input ?? []).map((i) => (i === old ? name : i));
}

/** Renames a node (its name only; the graph is unchanged). */
export function renameFirstNode(m: ModelProto, name: string): void {
  m.graph!.node![0]!.name = name;
}
