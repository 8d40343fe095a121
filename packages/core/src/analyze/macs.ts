import * as ort from 'onnxruntime-node';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import { DataType } from '../ir/dtype.js';
import { modelToBytes } from '../onnx/save.js';

const WEIGHTED = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

/**
 * Multiply-accumulates per sample of every Conv / ConvTranspose / Gemm / MatMul, from
 * the shapes one onnxruntime run on the first sample of `feed` gives (the IR has no
 * shape inference): Conv = output size × C/g·kH·kW, Gemm / MatMul = output size × K.
 */
export async function macsPerNode(model: Model, feed: Record<string, ort.Tensor>): Promise<Map<Node, number>> {
  const nodes = model.graph.nodes.filter((n) => WEIGHTED.has(n.opType) && n.domain === '');
  const out = new Map<Node, number>();
  if (nodes.length === 0) return out;
  const m = model.clone();
  const g = m.graph;
  const names = new Set<string>();
  for (const n of nodes) for (const v of [n.inputs[0], n.outputs[0]]) if (v && !v.isInitializer) names.add(v.name);
  for (const name of names) {
    const v = g.value(name)!;
    if (g.outputs.includes(v) || g.inputs.includes(v)) continue;
    v.type = { tensorType: { elemType: DataType.FLOAT } };
    g.outputs.push(v);
  }
  const one = Object.fromEntries(Object.entries(feed).map(([k, t]) => [k, new ort.Tensor(t.type as 'float32', (t.data as Float32Array).subarray(0, t.size / t.dims[0]!), [1, ...t.dims.slice(1)])]));
  const s = await ort.InferenceSession.create(modelToBytes(m), { graphOptimizationLevel: 'disabled' });
  try {
    const fetched = [...names].filter((n) => s.outputNames.includes(n) || g.inputs.some((v) => v.name === n));
    const r = await s.run(one, fetched.filter((n) => s.outputNames.includes(n)));
    const dims = (name: string | undefined): readonly number[] | null => (name ? (r[name]?.dims ?? one[name]?.dims ?? null) : null);
    for (const n of nodes) {
      const y = dims(n.outputs[0]?.name);
      if (!y) continue;
      const size = y.reduce((a, b) => a * b, 1);
      const w = n.inputs[1]?.constant()?.dims ?? dims(n.inputs[1]?.name) ?? null;
      let k = 0;
      if (n.opType === 'Conv') k = w ? w.slice(1).reduce((a, b) => a * b, 1) : 0;
      else if (n.opType === 'ConvTranspose') {
        const x = dims(n.inputs[0]?.name);
        k = x && w ? (x.reduce((a, b) => a * b, 1) * w.slice(1).reduce((a, b) => a * b, 1)) / size : 0;
      } else {
        const x = dims(n.inputs[0]?.name);
        const transA = n.opType === 'Gemm' && Number(n.attr('transA') ?? 0) === 1;
        k = x ? (transA ? x[x.length - 2]! : x[x.length - 1]!) : 0;
      }
      out.set(n, size * k);
    }
  } finally {
    await s.release();
  }
  return out;
}
