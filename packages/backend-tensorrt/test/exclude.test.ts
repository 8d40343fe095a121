import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { registerAll } from '@qdeploy/calibrators';
import { calibrate, insertQdq, registerCalibrator, loadModel, matchId, modelToBytes, partitionMatches, transform, type PatternMatch } from '@qdeploy/core';
import { TENSORRT_PATTERNS } from '../src/index.js';
import { checkPlacement } from '../src/check/index.js';
import { runModel, vendored } from './helpers.js';

const fused = () => transform(loadModel(vendored('fmnist_resnet_bn.onnx')), { patterns: TENSORRT_PATTERNS });
const quantizedLayers = (ms: readonly PatternMatch[]) => ms.filter((m) => m.qdqPoints.length > 0 && m.pattern.weights.length > 0);

describe('exclusion', () => {
  it('each rule kind keeps its matches in float, says which rule caught them, and leaves the rest of the placement as it was', () => {
    const { model, matches } = fused();
    const full = insertQdq(model, matches);
    const gemm = matches.find((m) => m.anchor.opType === 'Gemm')!;
    const add = matches.find((m) => m.pattern.name === 'ConvBNAddReLU')!;
    const conv = add.nodes.find((n) => n.opType === 'Conv')!;
    const cases = [
      { rules: { nodes: [conv.name] }, expect: [add], kind: 'node' },
      { rules: { nodes: ['/^\\/l3\\//'] }, expect: matches.filter((m) => m.nodes.some((n) => n.name.startsWith('/l3/'))), kind: 'node' },
      { rules: { opTypes: ['Gemm'] }, expect: [gemm], kind: 'opType' },
      { rules: { patterns: ['ConvBNAddReLU'] }, expect: matches.filter((m) => m.pattern.name === 'ConvBNAddReLU'), kind: 'pattern' },
      { rules: { matches: [matchId(add)] }, expect: [add], kind: 'match' },
      { rules: { matches: [gemm] }, expect: [gemm], kind: 'match' },
    ];
    for (const c of cases) {
      const q = insertQdq(model, matches, { exclude: c.rules });
      expect(q.placement.excluded.map((e) => e.match), `${c.kind} rule`).toEqual(c.expect);
      expect(q.placement.excluded.every((e) => e.rule.kind === c.kind)).toBe(true);
      expect(q.placement.unusedExcludeRules).toEqual([]);
      for (const m of c.expect) expect(q.quantizersOf(m)).toEqual([]);
      // Every other match keeps exactly the quantizers (tensor + kind) it had.
      for (const m of matches.filter((x) => !c.expect.includes(x))) {
        expect(q.quantizersOf(m).map((x) => `${x.kind}:${x.tensor.name}`)).toEqual(full.quantizersOf(m).map((x) => `${x.kind}:${x.tensor.name}`));
      }
      // What stays quantized still fuses: one INT8 group per kept conv/linear match, no error or warning.
      const report = checkPlacement(q.toExportModel({ quiet: true }));
      expect(report.summary.errors + report.summary.warnings).toBe(0);
      expect(report.summary.int8Groups).toBe(quantizedLayers(matches).filter((m) => !c.expect.includes(m)).length);
    }
  });

  it('a stub shared with a match still quantized stays, feeding only that match', () => {
    const { model, matches } = fused();
    const add = matches.find((m) => m.pattern.name === 'ConvBNAddReLU')!;
    const residual = add.roles.residual!;
    const q = insertQdq(model, matches, { exclude: { matches: [add] } });
    const stub = q.stubs().find((s) => s.tensor === residual)!;
    expect(stub).toBeDefined();
    expect(stub.matches).not.toContain(add);
    expect(stub.uses.every((u) => !add.nodes.includes(u.node))).toBe(true);
    // The excluded match's own input stub (read by it alone) is gone.
    expect(q.stubs().some((s) => s.tensor === add.roles.input)).toBe(false);
  });

  it('names rules that caught nothing, and rejects a bad regular expression', () => {
    const { matches } = fused();
    const r = partitionMatches(matches, { nodes: ['nosuch', '/^\\/l1\\//'], opTypes: ['LSTM'], patterns: ['Stem'], matches: ['/x/Conv'] });
    expect(r.unused).toEqual(['node nosuch', 'opType LSTM', 'pattern Stem', 'match /x/Conv']);
    expect(() => partitionMatches(matches, { nodes: ['/(/'] })).toThrow(/bad regular expression \/\(\//);
  });

  it('excluded matches compute in float: excluding everything gives the FP32 outputs', async () => {
    const { model, matches } = fused();
    const q = insertQdq(model, matches, { exclude: { patterns: [...new Set(matches.map((m) => m.pattern.name))] } });
    expect(q.quantizers()).toEqual([]);
    const x = new Float32Array(2 * 28 * 28).map((_, i) => Math.sin(i));
    const feed = () => ({ input: new ort.Tensor('float32', x, [2, 1, 28, 28]) });
    const a = await runModel(modelToBytes(model), feed());
    const b = await runModel(modelToBytes(q.toExportModel({ quiet: true })), feed());
    expect(Array.from(Object.values(b)[0]!)).toEqual(Array.from(Object.values(a)[0]!));
  });
});

describe('overrides', () => {
  it('per-match bit width (mixed W4/W8), per-tensor symmetry / per-channel, a fixed amax that calibration keeps', async () => {
    const { model, matches } = fused();
    const [first, second] = quantizedLayers(matches);
    const inputTensor = second!.roles.input!.name;
    const q = insertQdq(model, matches, {
      overrides: {
        matches: { [matchId(first!)]: { weight: { nBits: 4 }, activation: { nBits: 4 } } },
        tensors: { [inputTensor]: { amax: 3.5, symmetric: true } },
      },
    });
    const w = (m: PatternMatch) => q.quantizersOf(m).find((x) => x.kind === 'WeightFakeQuantize')!;
    expect(w(first!).config.nBits).toBe(4);
    expect(w(second!).config.nBits).toBe(8);
    const fixed = q.stubs().find((s) => s.tensor.name === inputTensor)!;
    expect(fixed.fixed).toBe(true);
    expect(fixed.scale[0]).toBeCloseTo(3.5 / 127, 7);
    registerAll(registerCalibrator);
    const x = new Float32Array(4 * 28 * 28).map((_, i) => Math.cos(i) * 3);
    await calibrate(q, async (run) => run(new ort.Tensor('float32', x, [4, 1, 28, 28])), { calibrator: 'minmax', progress: false });
    expect(fixed.scale[0]).toBeCloseTo(3.5 / 127, 7);
    expect(q.uncalibrated()).toEqual([]);
    const perTensor = insertQdq(model, matches, { overrides: { tensors: { [w(second!).tensor.name]: { perChannel: false } } } });
    expect(perTensor.weightQuantizers().find((x) => x.tensor === w(second!).tensor)!.axis).toBeNull();
    // A 4-bit weight takes at most 15 distinct levels per channel.
    const t = w(first!).tensor.constant()!;
    const fq = w(first!).fakeQuantize(Float32Array.from(t.toFloat32()), t.dims);
    const per = fq.length / t.dims[0]!;
    expect(new Set(fq.subarray(0, per)).size).toBeLessThanOrEqual(15);
  });
});
