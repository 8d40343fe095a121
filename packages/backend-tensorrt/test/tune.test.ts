import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { registerAll } from '@qdeploy/calibrators';
import { calibrate, insertQdq, modelToBytes, registerCalibrator, transform, tune, type HeldBatches } from '@qdeploy/core';
import { TENSORRT_PATTERNS } from '../src/index.js';
import { fragileBatches, fragileModel } from './fragile-model.js';

registerAll(registerCalibrator);
const { model, matches } = transform(fragileModel(), { patterns: TENSORRT_PATTERNS });

async function placed(bits: number) {
  const q = insertQdq(model, matches, { config: { activation: { nBits: bits }, weight: { nBits: bits } } });
  await calibrate(q, async (run) => {
    for (const t of fragileBatches(2, 16, 11)) await run(t);
  }, { calibrator: 'minmax', progress: false });
  return q;
}

function held(seed: number): HeldBatches {
  const batches = fragileBatches(2, 16, seed);
  return { description: 'generated', batches: batches.map((t) => ({ input: t })), sizes: [16, 16], samples: 32 };
}

async function sqnrOf(bytes: Uint8Array, data: HeldBatches): Promise<number> {
  const a = await ort.InferenceSession.create(modelToBytes(model), { graphOptimizationLevel: 'disabled' });
  const b = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled' });
  let signal = 0, noise = 0;
  for (const feed of data.batches) {
    const r = (await a.run(feed)).logits!.data as Float32Array;
    const o = (await b.run(feed)).logits!.data as Float32Array;
    r.forEach((v, i) => ((signal += v * v), (noise += (v - o[i]!) ** 2)));
  }
  await a.release();
  await b.release();
  return 10 * Math.log10(signal / noise);
}

describe('tune', () => {
  it('leaves the fragile layer in float first, stops once the budget holds, and the exported model meets it on held-out data', async () => {
    const q = await placed(8);
    const tuning = held(21), heldOut = held(31);
    const r = await tune(q, tuning, { metric: 'sqnr', minSqnrDb: 30, heldOut });
    expect(r.steps[0]!.score).toBeLessThan(30); // the full placement misses the budget
    expect(r.steps[1]).toMatchObject({ action: 'float', match: '/conv2/Relu' });
    expect(r.tuning.met).toBe(true);
    expect(r.steps.at(-2)!.score).toBeLessThan(30); // no step more than needed
    expect(r.float).toContain('/conv2/Relu');
    expect(r.configSnippet.exclude.matches).toEqual(r.float);
    expect(r.quantizedMacShare).toBeGreaterThan(0);
    expect(r.quantizedMacShare).toBeLessThan(1);
    // The held-out numbers are those of the exported model itself.
    const exported = modelToBytes(r.quantized.toExportModel({ quiet: true }));
    expect(r.heldOut!.score).toBeCloseTo(await sqnrOf(exported, heldOut), 3);
    expect(r.heldOut!.met).toBe(r.heldOut!.score >= 30);
  });

  it('below 8 bits, widens matches to 8 bits (most sensitive first) before any goes float', async () => {
    const [q4, q8] = [await placed(4), await placed(8)];
    const r = await tune(q4, held(21), { metric: 'sqnr', minSqnrDb: 30, wide: q8 });
    expect(r.steps[1]).toMatchObject({ action: 'wide', match: '/conv2/Relu' });
    const firstFloat = r.steps.findIndex((x) => x.action === 'float');
    if (firstFloat > 0) expect(r.steps.slice(1, firstFloat).length).toBe(r.sensitivity.matches.length); // every match widened first
    expect(r.tuning.met).toBe(true);
    for (const id of r.widened) {
      expect(r.configSnippet.overrides?.matches?.[id]).toEqual({ activation: { nBits: 8 }, weight: { nBits: 8 } });
      const qs = r.quantized.quantizersOf(r.quantized.matches.find((m) => m.anchor.name === id)!);
      expect(qs.length).toBeGreaterThan(0);
      expect(qs.every((x) => x.config.nBits === 8)).toBe(true);
    }
    expect(r.widened.length + r.float.length).toBeGreaterThan(0);
    expect(r.baseMacShare).toBeLessThanOrEqual(r.quantizedMacShare);
  });
});
