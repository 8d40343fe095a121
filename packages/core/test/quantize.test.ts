import { describe, expect, it } from 'vitest';
import { QuantStub, Graph, Tensor, WeightFakeQuantize, insertQdq, quantConfig, roundHalfEven, scaleFor, tensorQuantConfig, transform } from '../src/index.js';
import { integerRange } from '../src/quantize/config.js';
import { buildResNet18Like } from '../src/testing/index.js';
import { TENSORRT_PATTERNS } from '@qdeploy/backend-tensorrt';

describe('quantization arithmetic', () => {
  it('rounds half to even like ONNX QuantizeLinear', () => {
    expect([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 2.4999, -126.5].map((x) => roundHalfEven(x) + 0)).toEqual([-2, -2, 0, 0, 2, 2, 4, 2, -126]);
  });

  it('symmetric scale is amax/127 with zero point 0; asymmetric uses uint8 with a zero point', () => {
    const sym = tensorQuantConfig();
    expect(scaleFor({ amax: 2.54, min: -1, max: 2.54 }, sym)).toEqual({ scale: 0.02, zeroPoint: 0 });
    const asym = tensorQuantConfig({ symmetric: false });
    const r = scaleFor({ amax: 3, min: -1, max: 3 }, asym);
    expect(r.scale).toBeCloseTo(4 / 255, 9);
    expect(r.zeroPoint).toBe(64);
    expect(scaleFor({ amax: 0, min: 0, max: 0 }, sym).scale).toBe(1);
  });

  it('defaults to TensorRT: per-channel weights, per-tensor activations, LayerNorm weights skipped', () => {
    const c = quantConfig();
    expect(c.activation).toEqual({ nBits: 8, symmetric: true, perChannel: false });
    expect(c.weight.perChannel).toBe(true);
    expect(c.skipWeightQuantFor).toContain('LayerNormalization');
    expect(() => tensorQuantConfig({ nBits: 16 })).toThrow(/nBits/);
  });

  it('fake-quantizes activations onto the int8 grid', () => {
    const g = new Graph();
    const stub = new QuantStub(g.getOrCreateValue('x'), tensorQuantConfig());
    stub.setRange({ amax: 127, min: -127, max: 127 }); // scale 1
    const y = stub.fakeQuantize(new Float32Array([0.4, 0.6, 500, -500, 2.5, 3.5, -2.5]));
    expect(Array.from(y).map((v) => v + 0)).toEqual([0, 1, 127, -127, 2, 4, -2]);
    stub.enabled = false;
    expect(stub.fakeQuantize(new Float32Array([0.014]))[0]).toBeCloseTo(0.014, 7);
  });

  it('takes per-output-channel weight scales from the weights', () => {
    const g = new Graph();
    // 3 output channels × 2 inputs; channel 1 all zeros.
    const w = g.addInitializer('w', Tensor.fromArray(new Float32Array([1, -2, 0, 0, 0.5, 0.25]), [3, 2]));
    const wq = new WeightFakeQuantize(w, quantConfig().weight, 0);
    expect(Array.from(wq.amax)).toEqual([2, 0, 0.5]);
    expect(wq.scale[0]).toBeCloseTo(2 / 127, 9);
    expect(wq.scale[1]).toBe(1);
    // Axis 1 of a [K, N] MatMul weight: 2 channels.
    const wq1 = new WeightFakeQuantize(w, quantConfig().weight, 1);
    expect(Array.from(wq1.amax)).toEqual([1, 2]);
    const fq = wq1.fakeQuantize(new Float32Array([1, -2, 0, 0, 0.5, 0.25]));
    expect(fq[4]).toBeCloseTo(Math.round(0.5 / (1 / 127)) * (1 / 127), 6);
  });
});

describe('activations below 8 bits', () => {
  it('a tensor that is never negative gets the unsigned grid [0, 2^n − 1]; others keep ±(2^(n−1) − 1); the export clips to the same', () => {
    const { model, matches } = transform(buildResNet18Like({ size: 32 }), { patterns: TENSORRT_PATTERNS });
    for (const bits of [4, 8]) {
      const q = insertQdq(model, matches, { config: { activation: { nBits: bits }, weight: { nBits: bits, perChannel: true } } });
      const stubs = q.stubs();
      const relu = stubs.filter((s) => s.tensor.producer?.opType === 'Relu');
      const input = stubs.find((s) => model.graph.inputs.includes(s.tensor))!;
      expect(relu.length).toBeGreaterThan(5);
      if (bits === 8) {
        // int8 has no room for [0, 255]: 8 bits stay symmetric for every tensor (TensorRT).
        expect(stubs.every((s) => !s.config.unsigned)).toBe(true);
        continue;
      }
      for (const s of relu) expect(integerRange(s.config)).toEqual({ qmin: 0, qmax: 15 });
      expect(integerRange(input.config)).toEqual({ qmin: -7, qmax: 7 });
      for (const s of stubs) s.setRange({ amax: 3, min: s.config.unsigned ? 0 : -3, max: 3 });
      expect(relu[0]!.scale[0]).toBeCloseTo(3 / 15, 7);
      expect(input.scale[0]).toBeCloseTo(3 / 7, 7);
      // The export: Q → Clip(qmin, qmax) → DQ on int8, bounds from each stub's grid.
      const exported = q.toExportModel({ quiet: true });
      const clipOf = (name: string) => exported.graph.nodes.find((n) => n.opType === 'Clip' && n.input(0)!.producer?.opType === 'QuantizeLinear' && n.input(0)!.producer!.input(0)!.name === name)!;
      const bounds = (name: string) => [1, 2].map((i) => Number(clipOf(name).input(i)!.initializer!.toNumbers()[0]));
      expect(bounds(relu[0]!.tensor.name)).toEqual([0, 15]);
      expect(bounds(input.tensor.name)).toEqual([-7, 7]);
    }
  });
});
