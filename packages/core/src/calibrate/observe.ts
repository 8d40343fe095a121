import * as ort from 'onnxruntime-node';
import type { Model } from '../ir/model.js';
import { modelToBytes } from '../onnx/save.js';

/** Output names under which the observation graph returns a tensor's batch extrema. */
export const extremaOutputs = (name: string) => ({ min: `${name}__qdeploy_min`, max: `${name}__qdeploy_max` });

/**
 * An onnxruntime session over the FP32 graph that also returns what calibration needs:
 * the full values of `tensorNames`, and only the min and max (reduced inside the graph,
 * so the tensor never leaves onnxruntime) of `extremaNames`.
 */
export async function observationSession(
  model: Model,
  tensorNames: readonly string[],
  options: ort.InferenceSession.SessionOptions = {},
  extremaNames: readonly string[] = [],
): Promise<ort.InferenceSession> {
  const m = model.clone();
  const g = m.graph;
  const find = (name: string) => {
    const v = g.value(name);
    if (!v) throw new Error(`cannot observe tensor "${name}": it is not in the model`);
    return v;
  };
  for (const name of tensorNames) {
    const v = find(name);
    if (!g.outputs.includes(v)) g.outputs.push(v);
  }
  for (const name of extremaNames) {
    const v = find(name);
    const out = extremaOutputs(name);
    for (const [op, outName] of [['ReduceMin', out.min], ['ReduceMax', out.max]] as const) {
      const node = g.addNode({ opType: op, name: g.uniqueName(outName), inputs: [v], outputs: [g.getOrCreateValue(outName)], attrs: { keepdims: 0 } });
      g.outputs.push(node.output());
    }
  }
  return ort.InferenceSession.create(modelToBytes(m), { graphOptimizationLevel: 'all', ...options });
}
