// The checks of TENSORRT_PATTERNS on a whole network, shared by the generated graphs
// (tensorrt-patterns.test.ts) and the real PyTorch exports (tensorrt-patterns.exports.test.ts).
import * as ort from 'onnxruntime-node';
import { expect } from 'vitest';
import { countMatches, insertQdq, modelToBytes, transform, validateModel, QuantStub, WeightFakeQuantize, type Model } from '@qdeploy/core';
import { TENSORRT_PATTERNS } from '../src/index.js';
import { maxRelativeError, randomInput, runModel } from './helpers.js';
import type { NetworkCase } from '@qdeploy/core/testing';

export type PatternCase = NetworkCase;

/** Counts, FP32 equivalence after the transform, quantizers only where matches asked, a QDQ export that runs. */
export async function checkPatternCase(c: PatternCase): Promise<void> {
  const original = c.model();
  const before = modelToBytes(original);
  const { model, matches, conversions } = transform(original, { patterns: TENSORRT_PATTERNS });
  expect(countMatches(matches)).toEqual(c.matches);
  expect(conversions).toEqual(c.conversions);
  // The input model object is untouched.
  expect(Buffer.from(modelToBytes(original)).equals(Buffer.from(before))).toBe(true);
  expect(model.graph.nodesOf('BatchNormalization')).toHaveLength(0);

  const dims = [2, c.channels, c.size, c.size];
  const feeds = { input: new ort.Tensor('float32', randomInput(dims), dims) };
  const ref = await runModel(original, feeds);
  const got = await runModel(model, feeds);
  expect(maxRelativeError(ref.logits!, got.logits!)).toBeLessThanOrEqual(1e-4);

  const q = insertQdq(model, matches);
  const counts = q.counts();
  if (c.stubs) expect(counts.QuantStub).toBe(c.stubs);
  expect(counts.WeightFakeQuantize).toBe(c.weights);
  // Every quantizer belongs to a match that declared it.
  for (const qz of q.quantizers()) expect(qz.matches.length).toBeGreaterThan(0);
  // No quantizer inside a fusion group: stubs only on a match's declared inputs.
  for (const s of q.stubs()) for (const m of s.matches) expect(m.nodes).not.toContain(s.tensor.producer);

  const qdq = q.toExportModel({ quiet: true });
  const ops = qdq.graph.opCounts();
  expect(ops.QuantizeLinear).toBe(counts.QuantStub);
  expect(ops.DequantizeLinear).toBe(counts.QuantStub + counts.WeightFakeQuantize);
  expect(qdq.graph.inputs[0]!.shape![0]).toBe('batch');
  expect(validateModel(model)).toEqual([]);
  expect(validateModel(qdq)).toEqual([]);
  const out = await runModel(qdq, feeds);
  expect(out.logits!.length).toBe(ref.logits!.length);
  expect(out.logits!.every(Number.isFinite)).toBe(true);
}

/** ResNet-18: stubs on both Add inputs of every residual block, none on GAP, a per-channel Gemm weight. */
export function checkResidualStubs(resnet18: Model): void {
  const { model, matches } = transform(resnet18, { patterns: TENSORRT_PATTERNS });
  const q = insertQdq(model, matches);
  const residual = matches.filter((m) => m.pattern.name === 'ConvBNAddReLU');
  expect(residual).toHaveLength(8);
  for (const m of residual) {
    const add = m.captured.add!;
    // Both inputs of the Add: one is produced inside the group (the conv branch), the other is the stubbed residual.
    const res = m.roles.residual!;
    expect(add.inputs).toContain(res);
    const stub = q.stubs().find((s) => s.tensor === res)!;
    expect(stub).toBeInstanceOf(QuantStub);
    expect(stub.uses.some((u) => u.node === add)).toBe(true);
  }
  // Depthwise and pooling matches get nothing.
  const gap = matches.find((m) => m.pattern.name === 'GlobalAveragePool')!;
  expect(q.quantizersOf(gap)).toEqual([]);
  const fc = q.weightQuantizers().find((w) => w.matches[0]!.pattern.name === 'Linear')!;
  expect(fc).toBeInstanceOf(WeightFakeQuantize);
  expect(fc.axis).toBe(0); // Gemm transB=1
  expect(fc.scale.length).toBe(1000);
}
