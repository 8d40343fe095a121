import { DataType, type CheckFinding, type Model, type Node, type Value } from '@qdeploy/core';

const fromDq = (v: Value | null | undefined) => !!v && v.producer?.opType === 'DequantizeLinear';
const isConst = (v: Value | null | undefined) => !!v && v.constant() !== null;

/** A Relu / Clip that onnxruntime can fold into the QuantizeLinear after it, when it is the only reader. */
function throughActivation(v: Value): { value: Value; act: Node | null } {
  const users = v.consumers;
  if (users.length === 1 && v.uses.length === 1 && (users[0]!.opType === 'Relu' || users[0]!.opType === 'Clip')) {
    return { value: users[0]!.output(0), act: users[0]! };
  }
  return { value: v, act: null };
}

/** Why `v` is not fully quantized for onnxruntime (every reader a QuantizeLinear, not a graph output), or null. */
function outputProblem(v: Value, graphOutputs: ReadonlySet<Value>): string | null {
  if (graphOutputs.has(v)) return `${v.name} is a graph output`;
  const readers = v.consumers;
  if (readers.length === 0) return null;
  const floatReaders = readers.filter((n) => n.opType !== 'QuantizeLinear');
  if (floatReaders.length) return `${v.name} is read in float by ${floatReaders.map((n) => n.describe()).join(', ')}`;
  return null;
}

/** The zero point's type of the first QuantizeLinear reading `v` (INT8 / UINT8), if any. */
function quantType(v: Value): number | null {
  const q = v.consumers.find((n) => n.opType === 'QuantizeLinear');
  return q?.input(2)?.elemType ?? null;
}

/**
 * Checks a QDQ model against onnxruntime's CPU fusion rules: a Conv / Add / pooling op
 * becomes an integer kernel only with a DequantizeLinear on every activation input and a
 * QuantizeLinear as the only reader of its output (a Relu / Clip in between is folded when
 * the quantizer is asymmetric uint8 with its range starting at 0).
 */
export function checkReferencePlacement(model: Model): CheckFinding[] {
  const g = model.graph;
  const findings: CheckFinding[] = [];
  const outputs = new Set(g.outputs);
  const hasQdq = g.nodes.some((n) => n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear');
  if (!hasQdq) return [{ severity: 'info', code: 'no-qdq', message: 'the model has no QuantizeLinear / DequantizeLinear nodes: it runs in float' }];

  for (const n of g.nodes) {
    if (n.domain !== '') continue;
    let inputs: (Value | null)[];
    let kind: string;
    switch (n.opType) {
      case 'Conv':
        inputs = [n.input(0), n.input(1)];
        kind = 'QLinearConv';
        break;
      case 'Add':
        if (isConst(n.input(0)) || isConst(n.input(1))) continue;
        inputs = [n.input(0), n.input(1)];
        kind = 'QLinearAdd';
        break;
      case 'GlobalAveragePool':
      case 'AveragePool':
        inputs = [n.input(0)];
        kind = `QLinear${n.opType}`;
        break;
      case 'Gemm':
      case 'MatMul': {
        const [a, b] = [n.input(0), n.input(1)];
        if (!fromDq(a) && !fromDq(b)) {
          findings.push({ severity: 'info', code: 'float-op', node: n.name, message: `${n.describe()} runs in float (no quantized inputs)` });
          continue;
        }
        if (!fromDq(a) || !fromDq(b)) {
          findings.push({ severity: 'warning', code: 'partial-qdq', node: n.name, message: `${n.describe()}: only some inputs are dequantized, so it runs in float` });
          continue;
        }
        const bias = n.opType === 'Gemm' ? n.input(2) : null;
        const out = outputProblem(n.output(0), outputs);
        if (bias && !fromDq(bias) && out) {
          findings.push({
            severity: 'info', code: 'gemm-float-bias', node: n.name,
            message: `${n.describe()} has a float bias and a float output (${out}): onnxruntime keeps it as a float Gemm with dequantized inputs (a small cost for a classifier head; an int32 bias or an output quantizer makes it QGemm)`,
          });
        }
        continue;
      }
      default:
        continue;
    }
    const quantized = inputs.filter(fromDq).length;
    if (quantized === 0) {
      findings.push({ severity: 'info', code: 'float-op', node: n.name, message: `${n.describe()} runs in float (no quantized inputs)` });
      continue;
    }
    if (quantized < inputs.length) {
      const missing = inputs.filter((v) => !fromDq(v)).map((v) => v?.name ?? '(missing)');
      findings.push({ severity: 'warning', code: 'partial-qdq', node: n.name, message: `${n.describe()} has no DequantizeLinear on ${missing.join(', ')}: it stays in float instead of ${kind}` });
      continue;
    }
    const { value, act } = n.opType === 'Conv' || n.opType === 'Add' ? throughActivation(n.output(0)) : { value: n.output(0), act: null };
    const problem = outputProblem(value, outputs);
    if (problem) {
      findings.push({ severity: 'warning', code: 'output-not-quantized', node: n.name, message: `${n.describe()} is not followed by a QuantizeLinear only (${problem}): it stays in float instead of ${kind}` });
      continue;
    }
    if (act && quantType(value) === DataType.INT8) {
      findings.push({
        severity: 'warning', code: 'activation-not-foldable', node: act.name,
        message: `${act.describe()} feeds a symmetric int8 QuantizeLinear: onnxruntime cannot fold it, so ${n.describe()} stays in float; quantize activations asymmetrically (uint8)`,
      });
    }
  }
  return findings;
}
