// A fixture model turned into a training graph the way QAT uses one: float weights become
// graph inputs (fed each step), softmax cross-entropy on the logits is the loss.
import * as ort from 'onnxruntime-node';
import { DataType, loadModel, staticShapes, type Model } from '../../src/index.js';
import { randomInput } from '../../src/testing/index.js';

export interface TrainingGraph {
  model: Model;
  feeds: Record<string, ort.Tensor>;
  weights: string[];
  loss: string;
  shapes: Map<string, number[]>;
}

export async function trainingGraph(file: string, batch: number, seed = 3, edit?: (m: Model) => void): Promise<TrainingGraph> {
  const model = loadModel(file);
  edit?.(model);
  const g = model.graph;
  const input = g.inputs[0]!;
  const dims = input.shape!.map((d) => (typeof d === 'number' ? d : batch));
  const feeds: Record<string, ort.Tensor> = { [input.name]: new ort.Tensor('float32', randomInput(dims, seed), dims) };
  const weights: string[] = [];
  for (const v of g.initializers()) {
    if (v.initializer!.dataType !== DataType.FLOAT || v.initializer!.size < 2) continue;
    const t = v.initializer!;
    feeds[v.name] = new ort.Tensor('float32', t.toFloat32Copy(), [...t.dims]);
    v.type = { tensorType: { elemType: DataType.FLOAT, shape: { dim: t.dims.map((d) => ({ dimValue: d })) } } };
    v.initializer = null;
    g.inputs.push(v);
    weights.push(v.name);
  }
  const logits = g.outputs[0]!;
  const labels = g.getOrCreateValue('labels');
  labels.type = { tensorType: { elemType: DataType.INT64, shape: { dim: [{ dimValue: batch }] } } };
  g.inputs.push(labels);
  feeds.labels = new ort.Tensor('int64', BigInt64Array.from({ length: batch }, (_, i) => BigInt((i * 7 + seed) % 10)), [batch]);
  const loss = g.addNode({ opType: 'SoftmaxCrossEntropyLoss', name: 'loss', inputs: [logits, labels], outputs: [g.getOrCreateValue('loss')] }).output();
  g.outputs = [loss];
  return { model, feeds, weights, loss: loss.name, shapes: await staticShapes(model, feeds) };
}
