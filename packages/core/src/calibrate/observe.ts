import * as ort from 'onnxruntime-node';
import type { Model } from '../ir/model.js';
import { modelToBytes } from '../onnx/save.js';

/**
 * An onnxruntime session over the FP32 graph that also returns the given tensors, so
 * one inference per batch yields every quantizer's activations.
 */
export async function observationSession(
  model: Model,
  tensorNames: readonly string[],
  options: ort.InferenceSession.SessionOptions = {},
): Promise<ort.InferenceSession> {
  const m = model.clone();
  const g = m.graph;
  for (const name of tensorNames) {
    const v = g.value(name);
    if (!v) throw new Error(`cannot observe tensor "${name}": it is not in the model`);
    if (!g.outputs.includes(v)) g.outputs.push(v);
  }
  return ort.InferenceSession.create(modelToBytes(m), { graphOptimizationLevel: 'all', ...options });
}
