import { describe, expect, it } from 'vitest';
import { QuantStub, Graph, Tensor, WeightFakeQuantize, quantConfig, roundHalfEven, scaleFor, tensorQuantConfig } from '../src/index.js';

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
