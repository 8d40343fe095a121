import { DataType } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import { Tensor } from '../ir/tensor.js';
import type { Value } from '../ir/value.js';
import type { QuantizedModel } from './quantized-model.js';
import type { Quantizer } from './quantizer.js';
import { QuantStub } from './quant-stub.js';
import { integerRange } from './config.js';
import { quantizeInto } from './rounding.js';

export interface ExportOptions {
  /**
   * How weights are written: "int8" stores quantized int8 weights + DequantizeLinear
   * (4× smaller; what TensorRT and onnxruntime consume directly); "qdq" keeps float
   * weights behind QuantizeLinear → DequantizeLinear.
   */
  weights?: 'int8' | 'qdq';
  /** Don't warn about uncalibrated quantizers. */
  quiet?: boolean;
}

/** Minimum opset for per-channel DequantizeLinear (`axis`). */
export const MIN_QDQ_OPSET = 13;

/**
 * Writes the quantizers of a QuantizedModel as standard ONNX QuantizeLinear /
 * DequantizeLinear nodes into a copy of its graph.
 */
export function exportQdq(qm: QuantizedModel, options: ExportOptions = {}): Model {
  const src = qm.model;
  const opset = src.opset('') ?? 0;
  if (opset < MIN_QDQ_OPSET) {
    throw new Error(`the model imports ONNX opset ${opset}; QDQ export needs opset ${MIN_QDQ_OPSET} or newer (per-channel DequantizeLinear): re-export it with opset_version>=${MIN_QDQ_OPSET}`);
  }
  const out = src.clone();
  const g = out.graph;
  // Clone keeps node order, so the i-th node of the copy is the i-th of the source.
  const nodeMap = new Map<Node, Node>(src.graph.nodes.map((n, i) => [n, g.nodes[i]!]));
  const valueOf = (v: Value) => g.value(v.name)!;

  for (const q of qm.quantizers()) {
    if (!q.enabled) continue;
    if (q instanceof QuantStub) {
      const dq = addQdqPair(g, valueOf(q.tensor), q);
      for (const u of q.uses) nodeMap.get(u.node)!.setInput(u.index, dq);
    } else {
      const w = valueOf(q.tensor);
      const dq = options.weights === 'qdq' ? addQdqPair(g, w, q) : addWeightDq(g, w, q);
      for (const m of q.matches) {
        for (const n of m.nodes) {
          const c = nodeMap.get(n)!;
          c.inputs.forEach((v, i) => v === w && c.setInput(i, dq));
        }
      }
    }
  }
  g.cleanup().toposort();
  out.setMetadata('qdeploy.quantizers', JSON.stringify(qm.counts()));
  return out;
}

function qTypeOf(q: Quantizer): number {
  return q.config.symmetric ? DataType.INT8 : DataType.UINT8;
}

function scaleZp(g: Graph, base: string, q: Quantizer): [Value, Value] {
  const perChannel = q.axis !== null && q.scale.length > 1;
  const dims = perChannel ? [q.scale.length] : [];
  const scale = g.addInitializer(`${base}_scale`, Tensor.fromArray(Float32Array.from(q.scale.subarray(0, perChannel ? q.scale.length : 1)), dims));
  const zpData = q.config.symmetric ? Int8Array.from(q.zeroPoint.subarray(0, perChannel ? q.zeroPoint.length : 1)) : Uint8Array.from(q.zeroPoint.subarray(0, perChannel ? q.zeroPoint.length : 1));
  const zp = g.addInitializer(`${base}_zero_point`, Tensor.fromArray(zpData, dims, qTypeOf(q)));
  return [scale, zp];
}

function axisAttr(q: Quantizer): Record<string, number> {
  return q.axis !== null && q.scale.length > 1 ? { axis: q.axis } : {};
}

/** x → QuantizeLinear → DequantizeLinear; returns the dequantized value. */
export function addQdqPair(g: Graph, x: Value, q: Quantizer): Value {
  const [scale, zp] = scaleZp(g, x.name, q);
  const quant = g.addNode({ opType: 'QuantizeLinear', name: g.uniqueName(`${x.name}_QuantizeLinear`), inputs: [x, scale, zp], outputs: [g.addValue(`${x.name}_quantized`)], attrs: axisAttr(q) });
  const ints = narrowToBits(g, quant.output(), q);
  const deq = g.addNode({ opType: 'DequantizeLinear', name: g.uniqueName(`${x.name}_DequantizeLinear`), inputs: [ints, scale, zp], outputs: [g.addValue(`${x.name}_dequantized`)], attrs: axisAttr(q) });
  return deq.output();
}

/**
 * Below 8 bits, QuantizeLinear still saturates at the int8/uint8 limits: a Clip on the
 * integers gives the narrower range (e.g. [-7, 7] at 4 bits) so the model computes what
 * fakeQuantize does. (TensorRT has no sub-8-bit activations: such a model is a simulation.)
 * `exportedIntegerRange` states the resulting range; QAT's fake quant trains on it.
 */
function narrowToBits(g: Graph, ints: Value, q: Quantizer): Value {
  if (q.config.nBits >= 8) return ints;
  const { qmin, qmax } = integerRange(q.config);
  const type = qTypeOf(q);
  const bound = (v: number, suffix: string) =>
    g.addInitializer(`${ints.name}_${suffix}`, Tensor.fromArray(type === DataType.INT8 ? Int8Array.of(v) : Uint8Array.of(v), [], type));
  const clip = g.addNode({ opType: 'Clip', name: g.uniqueName(`${ints.name}_Clip${q.config.nBits}bit`), inputs: [ints, bound(qmin, 'qmin'), bound(qmax, 'qmax')], outputs: [g.addValue(`${ints.name}_${q.config.nBits}bit`)] });
  return clip.output();
}

/** Quantized weight initializer → DequantizeLinear. */
function addWeightDq(g: Graph, w: Value, q: Quantizer): Value {
  const t = w.constant()!;
  // External weights are read transiently (see WeightFakeQuantize.observe): one layer at a time.
  const values = () => (t.isExternal ? t.toFloat32Copy() : t.toFloat32OrBytes());
  const { qmin, qmax } = integerRange(q.config);
  const ints = q.config.symmetric ? new Int8Array(t.size) : new Uint8Array(t.size);
  const perTensor = q.axis === null || q.scale.length === 1;
  const inner = perTensor ? t.size : t.dims.slice(q.axis! + 1).reduce((a, b) => a * b, 1);
  // A folded BatchNorm not computed yet: its factors go into the quantizer's own pass.
  const f = t.channelFactors();
  if (f && !perTensor && q.scale.length === f.factor.length && inner === f.inner) {
    quantizeInto(f.base, ints, q.scale, q.zeroPoint, inner, qmin, qmax, f.factor);
  } else if (f && perTensor) {
    const spread = (x: number) => new Float32Array(f.factor.length).fill(x); // the one scale, on the factors' channels
    quantizeInto(f.base, ints, spread(q.scale[0]!), Int32Array.from(spread(q.zeroPoint[0]!)), f.inner, qmin, qmax, f.factor);
  } else {
    quantizeInto(values(), ints, q.scale, q.zeroPoint, inner, qmin, qmax);
  }
  const qw = g.addInitializer(`${w.name}_quantized`, Tensor.fromArray(ints, t.dims, qTypeOf(q)));
  const [scale, zp] = scaleZp(g, w.name, q);
  const deq = g.addNode({ opType: 'DequantizeLinear', name: g.uniqueName(`${w.name}_DequantizeLinear`), inputs: [qw, scale, zp], outputs: [g.addValue(`${w.name}_dequantized`)], attrs: axisAttr(q) });
  return deq.output();
}
