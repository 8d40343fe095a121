import * as ort from 'onnxruntime-node';
import type { Model } from '../ir/model.js';
import type { Tensor } from '../ir/tensor.js';
import { modelToBytes } from '../onnx/save.js';
import { tensorOf } from './shape-constants.js';

/** Captured values larger than this stay computed: shape arithmetic is a few numbers. */
const MAX_CAPTURED_ELEMENTS = 1 << 16;

/**
 * The static shape of every value a model computes, from one onnxruntime run with every
 * node output made a graph output (graph inputs and initializers: their fed/stored dims).
 * `capture`: values whose contents to keep as well (into `captured`; small ones only),
 * e.g. shapeComputedValues() for replaceWithConstants().
 */
export async function staticShapes(model: Model, feeds: Record<string, ort.Tensor>, capture?: { names: ReadonlySet<string>; captured: Map<string, Tensor> }): Promise<Map<string, number[]>> {
  const m = model.clone();
  const g = m.graph;
  const listed = new Set(g.outputs);
  for (const n of g.nodes) for (const o of n.outputs) if (o.name && !listed.has(o)) { g.outputs.push(o); listed.add(o); }
  const shapes = new Map<string, number[]>();
  for (const v of g.initializers()) shapes.set(v.name, [...v.initializer!.dims]);
  for (const [name, t] of Object.entries(feeds)) shapes.set(name, [...t.dims]);
  const session = await ort.InferenceSession.create(modelToBytes(m), { graphOptimizationLevel: 'disabled', logSeverityLevel: 3 });
  try {
    const out = await session.run(feeds);
    for (const [name, t] of Object.entries(out)) {
      shapes.set(name, [...t.dims]);
      if (!capture?.names.has(name) || t.size > MAX_CAPTURED_ELEMENTS) continue;
      const c = tensorOf(t.type, t.data, t.dims);
      if (c) capture.captured.set(name, c);
    }
  } finally {
    await session.release();
  }
  return shapes;
}
