#!/usr/bin/env node
// Writes a model as qdeploy quantizes it for QAT, in a form Python can read without the
// `onnx` package: transform (TensorRT patterns) → insertQdq (W8A8, the defaults the QAT
// bench uses) → calibrate (minmax) → the QDQ export with float weights behind
// QuantizeLinear → DequantizeLinear, so every quantizer is a Q/DQ pair at qdeploy's places.
// The folder gets graph.json (nodes in topological order, graph inputs/outputs, tensors),
// one .npy per initializer or Constant value under tensors/, and a check batch:
// x.npy (the first `batch` test images), y.npy (their labels), ort_fp32.npy (onnxruntime's
// output of the original FP32 model), ort_qdq.npy (its output of the QDQ export).
// scripts/anchors/torch_qat_step.py builds a PyTorch module from it.
// Usage: node scripts/anchors/dump-qdq-graph.mjs <model.onnx> <outDir> [batch=32]
// Needs a build (npm run build) and ../shared/fixtures (or $QDEPLOY_FIXTURES) for the images.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadModel, transform, insertQdq, calibrate, modelToBytes, usePlugin, openNpy, writeNpy, Tensor, dataTypeName } from '@qdeploy/core';
import calibrators from '@qdeploy/calibrators';
import { TENSORRT_PATTERNS } from '@qdeploy/backend-tensorrt';

const [file, outDir, batchArg = '32'] = process.argv.slice(2);
if (!file || !outDir) {
  console.error('usage: node scripts/anchors/dump-qdq-graph.mjs <model.onnx> <outDir> [batch=32]');
  process.exit(2);
}
const B = Number(batchArg);
const fixtures = process.env.QDEPLOY_FIXTURES ?? path.resolve(import.meta.dirname, '../../../shared/fixtures');
const CALIB_ROWS = 512;
const CALIB_BATCH = 64;

let tensorCount = 0;

/** Writes one tensor under tensors/ (numbered: ONNX names hold '/' and ':') and returns its graph.json entry. */
function writeTensor(dir, name, t, kind) {
  const fileName = `${String(tensorCount++).padStart(4, '0')}.npy`;
  writeNpy(path.join(dir, fileName), t.data(), t.dims);
  return { name, kind, dims: [...t.dims], dtype: dataTypeName(t.dataType), file: `tensors/${fileName}` };
}

/** A node's attributes as JSON values (Constant's tensor goes to `tensors` instead). */
function attributesOf(node) {
  const out = {};
  for (const k of node.attributes.keys()) {
    const v = node.attr(k);
    if (!(v instanceof Tensor)) out[k] = v;
  }
  return out;
}

/** graph.json plus tensors/ for one model's graph. */
function dumpGraph(model, dir) {
  const tensorDir = path.join(dir, 'tensors');
  fs.mkdirSync(tensorDir, { recursive: true });
  const g = model.graph;
  const tensors = g.initializers().map((v) => writeTensor(tensorDir, v.name, v.initializer, 'initializer'));
  const nodes = [];
  for (const n of g.nodes) {
    // A Constant becomes a tensor entry: the interpreter treats it like an initializer that is never trained.
    if (n.opType === 'Constant' && n.domain === '') {
      tensors.push(writeTensor(tensorDir, n.output(0).name, n.constantValue(), 'constant'));
      continue;
    }
    nodes.push({
      opType: n.opType,
      domain: n.domain,
      name: n.name,
      inputs: n.inputs.map((v) => v?.name ?? ''),
      outputs: n.outputs.map((v) => v.name),
      attributes: attributesOf(n),
    });
  }
  const json = {
    opset: model.opset(''),
    inputs: g.inputs.filter((v) => !v.initializer).map((v) => ({ name: v.name, shape: v.shape })),
    outputs: g.outputs.map((v) => v.name),
    tensors,
    nodes,
  };
  fs.writeFileSync(path.join(dir, 'graph.json'), JSON.stringify(json, null, 1));
}

/** onnxruntime's output of `model` on `x`, without graph optimizations (plain Q→DQ arithmetic). */
async function ortOutput(model, x) {
  const session = await ort.InferenceSession.create(modelToBytes(model), { graphOptimizationLevel: 'disabled' });
  const out = await session.run({ [session.inputNames[0]]: x });
  await session.release();
  return out[session.outputNames[0]];
}

await usePlugin(calibrators);
const original = loadModel(file);
const calibX = openNpy(path.join(fixtures, 'calib_512.npy'));
const testX = openNpy(path.join(fixtures, 'test_2000_x.npy'));
const testY = openNpy(path.join(fixtures, 'test_2000_y.npy'));
const rowDims = testX.shape.slice(1);

const { model, matches } = transform(original, { patterns: TENSORRT_PATTERNS });
const q = insertQdq(model, matches);
await calibrate(q, async (run) => {
  for (let i = 0; i < CALIB_ROWS; i += CALIB_BATCH) await run(new ort.Tensor('float32', calibX.readRows(i, CALIB_BATCH), [CALIB_BATCH, ...rowDims]));
}, { calibrator: 'minmax', progress: false });
const qdq = q.toExportModel({ weights: 'qdq' });

fs.mkdirSync(outDir, { recursive: true });
dumpGraph(qdq, outDir);
const xData = testX.readRows(0, B);
const x = new ort.Tensor('float32', xData, [B, ...rowDims]);
writeNpy(path.join(outDir, 'x.npy'), xData, [B, ...rowDims]);
writeNpy(path.join(outDir, 'y.npy'), testY.readRows(0, B), [B]);
const fp32Out = await ortOutput(original, x);
const qdqOut = await ortOutput(qdq, x);
writeNpy(path.join(outDir, 'ort_fp32.npy'), fp32Out.data, fp32Out.dims);
writeNpy(path.join(outDir, 'ort_qdq.npy'), qdqOut.data, qdqOut.dims);
const counts = q.counts();
console.log(`${path.basename(file)} → ${outDir}: ${qdq.graph.nodes.length} nodes, ${counts.QuantStub} activation and ${counts.WeightFakeQuantize} weight quantizers`);
