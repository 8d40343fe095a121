// A small generated CNN with one deliberately fragile layer: conv1's channel 0 is scaled
// by 1000 (an activation outlier) and conv2 reads it through weights scaled by 1/1000, so
// the FP32 function is ordinary but conv2's input quantizer must cover ±1000: at 8 bits
// the other seven channels round to (almost) nothing.
import * as ort from 'onnxruntime-node';
import { DataType, Graph, Model, Tensor, type Value } from '@qdeploy/core';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

export function fragileModel(): Model {
  const g = new Graph();
  const r = rng(7);
  const x = g.getOrCreateValue('input');
  x.type = { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'N' }, { dimValue: 3 }, { dimValue: 8 }, { dimValue: 8 }] } } };
  g.inputs.push(x);
  const init = (name: string, dims: number[], scale = 0.4) => g.addInitializer(name, Tensor.fromArray(Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r() * scale), dims));
  const convRelu = (name: string, from: Value, cin: number, tweak?: (w: Float32Array) => void) => {
    const w = init(`${name}.weight`, [8, cin, 3, 3]);
    tweak?.(w.constant()!.toFloat32());
    const b = init(`${name}.bias`, [8], 0.1);
    const c = g.addNode({ opType: 'Conv', name: `/${name}/Conv`, inputs: [from, w, b], attrs: { pads: [1, 1, 1, 1], kernel_shape: [3, 3] }, outputs: [g.addValue(`/${name}/Conv_output_0`)] });
    return g.addNode({ opType: 'Relu', name: `/${name}/Relu`, inputs: [c.output()], outputs: [g.addValue(`/${name}/Relu_output_0`)] }).output();
  };
  const a1 = convRelu('conv1', x, 3, (w) => {
    for (let i = 0; i < 27; i++) w[i]! *= 1000; // output channel 0: the outlier
  });
  const a2 = convRelu('conv2', a1, 8, (w) => {
    for (let o = 0; o < 8; o++) for (let k = 0; k < 9; k++) w[o * 72 + k]! /= 1000; // input channel 0 read at 1/1000
  });
  const a3 = convRelu('conv3', a2, 8);
  const p = g.addNode({ opType: 'GlobalAveragePool', name: '/pool/GlobalAveragePool', inputs: [a3], outputs: [g.addValue('/pool/out')] }).output();
  const f = g.addNode({ opType: 'Flatten', name: '/Flatten', inputs: [p], outputs: [g.addValue('/flat')] }).output();
  const y = g.addNode({ opType: 'Gemm', name: '/fc/Gemm', inputs: [f, init('fc.weight', [4, 8], 1), init('fc.bias', [4], 0.1)], attrs: { transB: 1 }, outputs: [g.addValue('logits')] }).output();
  y.type = { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'N' }, { dimValue: 4 }] } } };
  g.outputs.push(y);
  return new Model(g, { irVersion: 8, opsetImport: [{ domain: '', version: 13 }] });
}

/** Deterministic input batches: [n, 3, 8, 8] with values in [-1, 1]. */
export function fragileBatches(batches: number, n: number, seed = 3): ort.Tensor[] {
  const r = rng(seed);
  return Array.from({ length: batches }, () => new ort.Tensor('float32', Float32Array.from({ length: n * 192 }, r), [n, 3, 8, 8]));
}
