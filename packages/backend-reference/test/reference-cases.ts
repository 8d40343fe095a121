// REFERENCE_PATTERNS on whole networks, shared by the generated graphs
// (reference-patterns.test.ts) and the real PyTorch exports (reference-patterns.exports.test.ts).
import * as ort from 'onnxruntime-node';
import { expect } from 'vitest';
import { DataType, countMatches, insertQdq, transform, type Model } from '@qdeploy/core';
import { REFERENCE_PATTERNS, referenceBackend } from '../src/index.js';
import { maxRelativeError, randomInput, runModel } from './helpers.js';
import type { NetworkCase } from '@qdeploy/core/testing';

export type ReferenceCase = NetworkCase;

/** Counts, FP32 equivalence, every quantized tensor read only through its DQ. */
export async function checkReferenceCase(c: ReferenceCase): Promise<void> {
  const original = c.model();
  const { model, matches, conversions, unmatched } = transform(original, { patterns: REFERENCE_PATTERNS });
  expect(countMatches(matches)).toEqual(c.matches);
  expect(conversions).toEqual(c.conversions);
  // Every compute node belongs to a group (Constant nodes feeding Clip bounds aside).
  expect(unmatched.filter((n) => n.opType !== 'Constant')).toEqual([]);

  const dims = [2, c.channels, c.size, c.size];
  const feeds = { input: new ort.Tensor('float32', randomInput(dims), dims) };
  const ref = await runModel(original, feeds);
  const got = await runModel(model, feeds);
  expect(maxRelativeError(ref.logits!, got.logits!)).toBeLessThanOrEqual(1e-4);

  const q = insertQdq(model, matches, { config: referenceBackend.quantConfig });
  expect(q.counts()).toEqual({ QuantStub: c.stubs, WeightFakeQuantize: c.weights });
  const qdq = q.toExportModel({ quiet: true });
  const g = qdq.graph;
  const quantizes = g.nodesOf('QuantizeLinear');
  expect(quantizes).toHaveLength(c.stubs);
  for (const qn of quantizes) {
    // Asymmetric uint8 activations (zero point type), and no float reader left beside the Q:
    // onnxruntime fuses a group only when its output goes to QuantizeLinear alone.
    expect(qn.input(2)!.elemType).toBe(DataType.UINT8);
    expect(qn.input(0)!.consumers.map((n) => n.opType)).toEqual(['QuantizeLinear']);
  }
  // Weights: int8, per output channel.
  for (const w of q.weightQuantizers()) {
    expect(w.config.symmetric).toBe(true);
    expect(w.scale.length).toBe(w.tensor.constant()!.dims[w.axis!]);
  }
}

/** MobileNetV2: depthwise convs are quantized too. */
export function checkMobileNetV2Counts(mobilenetV2: Model): void {
  const { matches } = transform(mobilenetV2, { patterns: REFERENCE_PATTERNS });
  expect(countMatches(matches)).toEqual({ QConvAct: 35, QConv: 17, QAdd: 10, QUnary: 1, QDataMovement: 1, QLinear: 1 });
  const depthwise = matches.filter((m) => m.captured.conv && Number(m.captured.conv.attr('group', 1)) > 1);
  expect(depthwise).toHaveLength(17);
}

/** EfficientNet-B0: SiLU runs in float between DQ and Q so every conv can fuse. */
export function checkEfficientNetB0Counts(efficientNetB0: Model): void {
  const counts = countMatches(transform(efficientNetB0, { patterns: REFERENCE_PATTERNS }).matches);
  expect(counts.QConv).toBe(81);
  expect(counts.FloatActivation).toBe(49);
}
