import { Model } from '../ir/model.js';
import { DataType, elementsPerByte, storageBytes } from '../ir/dtype.js';
import { AttributeType, toNumber, type GraphProto, type ModelProto, type TensorProto, type ValueInfoProto } from './proto.js';
import { modelToProto } from './save.js';

/**
 * Structural checks modelled on `onnx.checker.check_model` (which needs Python): what a
 * model qdeploy writes must satisfy before it reaches TensorRT or onnxruntime. Returns
 * the problems found, each naming the node, tensor or field; an empty list means valid.
 */
export function validateModel(model: Model | ModelProto): string[] {
  const proto = model instanceof Model ? modelToProto(model) : model;
  const problems: string[] = [];
  const opsets = new Map<string, number>();
  if (!proto.irVersion || toNumber(proto.irVersion) < 3) problems.push(`ir_version ${toNumber(proto.irVersion)} is missing or older than 3`);
  for (const o of proto.opsetImport ?? []) {
    const domain = o.domain === 'ai.onnx' ? '' : o.domain ?? '';
    if (opsets.has(domain)) problems.push(`opset_import lists domain "${domain}" twice`);
    opsets.set(domain, toNumber(o.version));
  }
  if (!opsets.has('')) problems.push('opset_import has no entry for the default ONNX domain');
  if (!proto.graph) return [...problems, 'the model has no graph'];
  checkGraph(proto.graph, opsets, problems);
  return problems;
}

/** Throws an Error listing every problem `validateModel` finds. */
export function assertValidModel(model: Model | ModelProto, what = 'model'): void {
  const problems = validateModel(model);
  if (problems.length) throw new Error(`${what} is not a valid ONNX model:\n  ${problems.join('\n  ')}`);
}

function checkGraph(g: GraphProto, opsets: Map<string, number>, problems: string[]): void {
  const defined = new Set<string>();
  const initializers = new Map<string, TensorProto>();
  const typeOf = (vi: ValueInfoProto, role: string) => {
    if (!vi.name) problems.push(`a graph ${role} has no name`);
    else if (!vi.type?.tensorType?.elemType && !vi.type?.sequenceType && !vi.type?.mapType) {
      problems.push(`graph ${role} "${vi.name}" has no type (onnx.checker requires one)`);
    }
  };
  for (const t of g.initializer ?? []) {
    const name = t.name ?? '';
    if (!name) problems.push('an initializer has no name');
    if (initializers.has(name)) problems.push(`initializer "${name}" is defined twice`);
    initializers.set(name, t);
    defined.add(name);
    const why = tensorDataProblem(t);
    if (why) problems.push(`initializer "${name}": ${why}`);
  }
  for (const vi of g.input ?? []) {
    typeOf(vi, 'input');
    defined.add(vi.name ?? '');
  }
  const produced = new Set<string>(defined);
  (g.node ?? []).forEach((n, k) => {
    const label = `node #${k} ${n.opType ?? '?'}${n.name ? ` "${n.name}"` : ''}`;
    if (!n.opType) problems.push(`${label} has no op_type`);
    const domain = n.domain === 'ai.onnx' ? '' : n.domain ?? '';
    if (!opsets.has(domain)) problems.push(`${label} uses domain "${domain}", which opset_import does not list`);
    for (const input of n.input ?? []) {
      if (input && !defined.has(input)) problems.push(`${label} reads "${input}" before anything defines it (nodes must be in topological order)`);
    }
    for (const a of n.attribute ?? []) {
      if (!a.name) problems.push(`${label} has an attribute without a name`);
      if (!a.type) problems.push(`${label} attribute "${a.name}" has no type`);
    }
    for (const out of n.output ?? []) {
      if (!out) continue;
      if (produced.has(out)) problems.push(`${label} writes "${out}", which is already defined (each tensor has one producer)`);
      produced.add(out);
      defined.add(out);
    }
    if (domain === '' && (n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear')) checkQdq(n, label, initializers, opsets.get('') ?? 0, problems);
  });
  for (const vi of g.output ?? []) {
    typeOf(vi, 'output');
    if (vi.name && !defined.has(vi.name)) problems.push(`graph output "${vi.name}" is never computed`);
  }
}

/** QuantizeLinear / DequantizeLinear: scale float, zero point int8/uint8 of the same shape, a valid axis. */
function checkQdq(
  n: { input?: string[] | null; output?: string[] | null; attribute?: { name?: string | null; type?: number | null; i?: unknown }[] | null },
  label: string,
  initializers: Map<string, TensorProto>,
  opset: number,
  problems: string[],
): void {
  const inputs = n.input ?? [];
  if (inputs.length < 2 || inputs.length > 3) problems.push(`${label} has ${inputs.length} inputs, expected 2 or 3`);
  if ((n.output ?? []).length !== 1) problems.push(`${label} has ${(n.output ?? []).length} outputs, expected 1`);
  const scale = initializers.get(inputs[1] ?? '');
  const zp = inputs[2] ? initializers.get(inputs[2]) : undefined;
  if (scale && scale.dataType !== DataType.FLOAT) problems.push(`${label}: scale "${scale.name}" is not float32`);
  if (zp && zp.dataType !== DataType.INT8 && zp.dataType !== DataType.UINT8) problems.push(`${label}: zero point "${zp.name}" is not int8 or uint8`);
  const dims = (t?: TensorProto) => (t?.dims ?? []).map(toNumber);
  if (scale && zp && dims(scale).join(',') !== dims(zp).join(',')) problems.push(`${label}: scale [${dims(scale)}] and zero point [${dims(zp)}] differ in shape`);
  const axis = (n.attribute ?? []).find((a) => a.name === 'axis');
  const perChannel = scale ? dims(scale).length === 1 && dims(scale)[0]! > 1 : false;
  if (perChannel && opset < 13) problems.push(`${label}: a per-channel scale needs opset 13 (the model imports ${opset})`);
  if (axis && axis.type !== AttributeType.INT) problems.push(`${label}: attribute axis is not an integer`);
}

/** Whether a tensor's payload holds exactly the elements its dims promise. */
function tensorDataProblem(t: TensorProto): string | null {
  if (t.dataLocation === 1) return null; // external: checked when loaded
  const n = (t.dims ?? []).map(toNumber).reduce((a, b) => a * b, 1);
  const dt = t.dataType ?? 0;
  if (dt === DataType.UNDEFINED) return 'has no data type';
  if (t.rawData && t.rawData.length > 0) {
    const want = storageBytes(dt, n);
    return want && t.rawData.length !== want ? `raw_data has ${t.rawData.length} bytes, dims [${(t.dims ?? []).map(toNumber)}] need ${want}` : null;
  }
  const typed = [t.floatData, t.int32Data, t.int64Data, t.doubleData, t.uint64Data, t.stringData].find((a) => a && a.length > 0);
  const count = typed?.length ?? 0;
  const perElement = dt === DataType.COMPLEX64 || dt === DataType.COMPLEX128 ? 2 : 1;
  // The 4- and 2-bit types keep one packed byte per int32_data entry.
  const need = elementsPerByte(dt) ? storageBytes(dt, n) : n * perElement;
  if (count !== need && !(n === 0 && count === 0)) return `holds ${count} values, dims [${(t.dims ?? []).map(toNumber)}] need ${need}`;
  return null;
}
