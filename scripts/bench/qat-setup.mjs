// The QAT benches' common setup: a model with the TensorRT patterns, W8A8 minmax-calibrated
// on one deterministic batch, that batch and its labels. A model without [batch, classes]
// logits (a detector) trains with output distillation; symbolic image sides read as 224.
import * as ort from 'onnxruntime-node';
import { loadModel, transform, insertQdq, calibrate, usePlugin } from '@qdeploy/core';
import calibrators from '@qdeploy/calibrators';
import { TENSORRT_PATTERNS } from '@qdeploy/backend-tensorrt';

export async function benchSetup(file, batch) {
  await usePlugin(calibrators);
  const original = loadModel(file);
  const dims = original.graph.inputs[0].shape.slice(1).map((d) => (typeof d === 'number' ? d : 224));
  const logits = original.graph.outputs[0].shape?.length === 2;
  const n = dims.reduce((a, b) => a * b, 1);
  const x = new ort.Tensor('float32', Float32Array.from({ length: batch * n }, (_, i) => Math.sin(i * 0.37)), [batch, ...dims]);
  const labels = Int32Array.from({ length: batch }, (_, i) => i % 10);
  const { model, matches } = transform(original, { patterns: TENSORRT_PATTERNS });
  const quantized = insertQdq(model, matches);
  await calibrate(quantized, async (run) => run(x), { calibrator: 'minmax', progress: false });
  return { original, quantized, x, labels, logits };
}
