import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { registerAll } from '@qdeploy/calibrators';
import { analyzeSensitivity, buildSwitchable, calibrate, insertQdq, modelToBytes, registerCalibrator, SwitchableSession, transform, type HeldBatches } from '@qdeploy/core';
import { TENSORRT_PATTERNS } from '../src/index.js';
import { fragileBatches, fragileModel } from './fragile-model.js';

registerAll(registerCalibrator);

async function calibrated(bits = 8) {
  const { model, matches } = transform(fragileModel(), { patterns: TENSORRT_PATTERNS });
  const q = insertQdq(model, matches, { config: { activation: { nBits: bits }, weight: { nBits: bits } } });
  await calibrate(q, async (run) => {
    for (const t of fragileBatches(2, 16, 11)) await run(t);
  }, { calibrator: 'minmax', progress: false });
  return q;
}

function held(batches: ort.Tensor[]): HeldBatches {
  return { description: 'generated', batches: batches.map((t) => ({ input: t })), sizes: batches.map((t) => t.dims[0]!), samples: batches.reduce((a, t) => a + t.dims[0]!, 0) };
}

const maxAbs = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('switchable fake-quant graph', () => {
  it('all quantized = the exported QDQ model; all float = the FP32 model (onnxruntime without fusions)', async () => {
    const q = await calibrated();
    const graph = buildSwitchable(q);
    expect(graph.flagInputs).toHaveLength(graph.matches.length);
    const s = await SwitchableSession.create(graph, modelToBytes(graph.model));
    const [x] = fragileBatches(1, 8, 5);
    const run = async (bytes: Uint8Array) => {
      const sess = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled' });
      const out = (await sess.run({ input: x! })).logits!.data as Float32Array;
      await sess.release();
      return out;
    };
    const on = (await s.run({ input: x! }, graph.matches.map(() => 1))).logits!.data as Float32Array;
    const off = (await s.run({ input: x! }, graph.matches.map(() => 0))).logits!.data as Float32Array;
    await s.release();
    const qdq = await run(modelToBytes(q.toExportModel({ quiet: true, weights: 'qdq' })));
    const fp32 = await run(modelToBytes(q.model));
    expect(maxAbs(on, qdq)).toBeLessThan(1e-4);
    expect(maxAbs(off, fp32)).toBeLessThan(1e-5);
    expect(maxAbs(on, fp32)).toBeGreaterThan(1e-3); // the quantized run is not the float one
  });
});

describe('analyzeSensitivity', () => {
  it('ranks the layer behind the activation outlier first, and its stub as the noisiest', async () => {
    const q = await calibrated();
    const r = await analyzeSensitivity(q, held(fragileBatches(2, 16, 21)));
    expect(r.matches[0]!.id).toBe('/conv2/Relu');
    // Alone it does more damage than any other match; leaving it out helps most.
    const others = r.matches.slice(1);
    expect(r.matches[0]!.only.sqnrDb).toBeLessThan(Math.min(...others.map((m) => m.only.sqnrDb)) - 6);
    expect(r.matches[0]!.allBut.sqnrDb).toBeGreaterThan(Math.max(...others.map((m) => m.allBut.sqnrDb)));
    const noisiest = [...r.stubs].sort((a, b) => a.sqnrDb - b.sqnrDb)[0]!;
    expect(noisiest.tensor).toBe('/conv1/Relu_output_0');
    expect(r.runs).toBe(2 * (2 * r.matches.length + 2));
    expect(r.totalMacs).toBe(64 * 8 * 27 + 2 * 64 * 8 * 72 + 4 * 8); // conv1, conv2, conv3 at 8×8, fc
  });
});
