import * as ort from 'onnxruntime-node';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_HISTOGRAM_STRIDE, DataError, DataType, Graph, Model, Tensor, calibrate, definePattern, input, insertQdq, loadModel, observationSession, op, openNpy, resolveCalibratorFactory,
  sampleGrid, sampleStrideOf, transform, usePlugin, type Calibrator, type CalibratorFactory, type ForwardLoop, type QuantizedModel,
} from '../src/index.js';
import calibrators, { type AbsHistogram, type HistogramCalibrator } from '@qdeploy/calibrators';
import { vendored } from './helpers/fixtures.js';

// Histogram calibrators get |x| binned inside the onnxruntime graph (int16 bin indices);
// these tests check that this gives what collect() gives on the same activations.

const CONV = definePattern({ name: 'Conv', root: op(['Conv', 'Gemm'], [input('input')]), qdqPoints: ['input'] });
const calib = openNpy(path.join(__dirname, 'fixtures/data/calib_64.npy'));

function prepare(): QuantizedModel {
  const { model, matches } = transform(loadModel(vendored('fmnist_resnet.onnx')), { patterns: [CONV] });
  return insertQdq(model, matches);
}

/** The 64 images in batches of 16, batch b scaled by scales[b] (1 when not given). */
function batchList(scales: readonly number[] = []): ort.Tensor[] {
  return [0, 1, 2, 3].map((b) => {
    const x = Float32Array.from(calib.readRows(b * 16, 16) as Float32Array);
    const s = scales[b] ?? 1;
    if (s !== 1) for (let i = 0; i < x.length; i++) x[i]! *= s;
    return new ort.Tensor('float32', x, [16, 1, 28, 28]);
  });
}
const loop = (batches: readonly ort.Tensor[]): ForwardLoop => async (run) => {
  for (const b of batches) await run(b);
};

/** Wraps a calibrator factory to count which path fed each calibrator. */
function spying(factory: CalibratorFactory) {
  const calls = { collect: 0, binned: 0 };
  const wrapped: CalibratorFactory = (o) => {
    const inner = factory(o);
    const b = inner.binned!;
    const c: Calibrator = {
      method: inner.method,
      collect: (v) => {
        calls.collect++;
        inner.collect(v);
      },
      binned: {
        bins: b.bins,
        get range() {
          return b.range;
        },
        collectBinned: (idx, r, mn, mx) => {
          calls.binned++;
          b.collectBinned(idx, r, mn, mx);
        },
      },
      compute: () => inner.compute(),
      state: () => inner.state(),
      merge: (s) => inner.merge(s),
    };
    return c;
  };
  return { calls, factory: wrapped };
}

/**
 * Every stub's calibrator fed the same batches through collect() (the JS path), 4-D
 * tensors on the grid of `stride` (calibrate's histogramStride, default 2).
 */
async function viaCollect(q: QuantizedModel, method: string, batches: readonly ort.Tensor[], stride = DEFAULT_HISTOGRAM_STRIDE): Promise<Map<string, HistogramCalibrator>> {
  const names = q.stubs().map((s) => s.tensor.name);
  const session = await observationSession(q.model, names);
  const cals = new Map(names.map((n) => [n, resolveCalibratorFactory(method)() as HistogramCalibrator]));
  try {
    for (const b of batches) {
      const out = await session.run({ input: b }, names);
      for (const n of names) cals.get(n)!.collect(sampleGrid(out[n]!.data as Float32Array, out[n]!.dims, sampleStrideOf(q.model, n, stride)));
    }
  } finally {
    await session.release();
  }
  return cals;
}

/**
 * Binned-in-graph and collect() histograms of the same data: same grid, extrema and
 * count; the counts differ only by values on a bin edge, which float32 (graph) and
 * float64 (JS) arithmetic put on either side of it. So the running difference of the
 * counts, i.e. the net number of values carried across each edge, is 0 at all but a few edges.
 */
function expectSameHistogram(binned: AbsHistogram, js: AbsHistogram, name: string): void {
  expect(binned.range, name).toBe(js.range);
  expect(binned.count, name).toBe(js.count);
  expect(binned.min, name).toBe(js.min);
  expect(binned.max, name).toBe(js.max);
  let carried = 0;
  let edges = 0;
  let moved = 0;
  for (let k = 0; k < js.bins; k++) {
    carried += binned.counts[k]! - js.counts[k]!;
    if (carried !== 0) edges++;
    moved += Math.abs(carried);
  }
  expect(carried, name).toBe(0);
  // A few edges (a value repeated many times can sit on one: 93 copies of the brightest pixel do).
  expect(edges, name).toBeLessThanOrEqual(Math.max(2, js.count * 2e-5));
  expect(moved, name).toBeLessThanOrEqual(js.count * 0.005);
}

/** x -> Log -> Gemm, its Gemm input stubbed: finite inputs (which pass the feed checks) give Log(-1) = NaN, Log(0) = -Infinity. */
function logModel(opset: number): QuantizedModel {
  const g = new Graph();
  const x = g.getOrCreateValue('x');
  x.type = { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 4 }] } } };
  g.inputs.push(x);
  const logged = g.addNode({ opType: 'Log', name: 'log', inputs: [x], outputs: [g.getOrCreateValue('logged')] }).output();
  const w = g.addInitializer('w', Tensor.fromArray(new Float32Array([1, 0, 0, 1, 0.5, 0.5, -1, 2, 1, 0, 3, 1]), [4, 3]));
  g.outputs.push(g.addNode({ opType: 'Gemm', name: 'gemm', inputs: [logged, w], outputs: [g.getOrCreateValue('y')] }).output());
  const { model, matches } = transform(new Model(g, { irVersion: 7, opsetImport: [{ domain: '', version: opset }] }), { patterns: [CONV] });
  const q = insertQdq(model, matches);
  expect(q.stubs().map((s) => s.tensor.name)).toEqual(['logged']);
  return q;
}
const feed = (...v: number[]) => new ort.Tensor('float32', Float32Array.from(v), [v.length / 4, 4]);

beforeAll(async () => {
  await usePlugin(calibrators);
});

describe('calibrate(): histogram methods bin inside the graph', () => {
  for (const method of ['entropy', 'percentile', 'mse']) {
    it(`${method}: same amax as collect() on the same activations (fmnist ResNet, model input included)`, async () => {
      const batches = batchList();
      const q = prepare();
      const spy = spying(resolveCalibratorFactory(method));
      const r = await calibrate(q, loop(batches), { calibrator: spy.factory, inputCalibrator: null, progress: false });
      const stubs = q.stubs();
      expect(spy.calls).toEqual({ collect: 0, binned: stubs.length * batches.length });
      const js = await viaCollect(q, method, batches);
      for (const s of stubs) {
        const name = s.tensor.name;
        const ref = js.get(name)!;
        const cal = resolveCalibratorFactory(method)() as HistogramCalibrator;
        cal.merge(r.states[name]!);
        expectSameHistogram(cal.histogram, ref.histogram, name);
        const want = ref.compute();
        const width = ref.histogram.binWidth;
        expect(Math.abs(r.ranges[name]!.amax - want.amax), name).toBeLessThanOrEqual(width);
        expect(Math.abs(r.ranges[name]!.min - want.min), name).toBeLessThanOrEqual(width);
        expect(Math.abs(r.ranges[name]!.max - want.max), name).toBeLessThanOrEqual(width);
      }
    });
  }

  it('grows the range by doubling like collect() when a later batch is much wider', async () => {
    // ×1/64 then ×1 then ×50: every tensor's range doubles several times, within the graph's 2^30.
    const batches = batchList([1 / 64, 1, 50, 1]);
    const q = prepare();
    const spy = spying(resolveCalibratorFactory('entropy'));
    const r = await calibrate(q, loop(batches), { calibrator: spy.factory, inputCalibrator: null, progress: false });
    expect(spy.calls.collect).toBe(0);
    const js = await viaCollect(q, 'entropy', batches);
    const absMax = (t: ort.Tensor) => (t.data as Float32Array).reduce((a, x) => Math.max(a, Math.abs(x)), 0);
    let want = absMax(batches[0]!);
    const all = Math.max(...batches.map(absMax));
    while (want < all) want *= 2;
    expect(js.get('input')!.histogram.range).toBe(want);
    expect(want).toBeGreaterThan(absMax(batches[0]!) * 1000);
    for (const s of q.stubs()) {
      const name = s.tensor.name;
      const cal = resolveCalibratorFactory('entropy')() as HistogramCalibrator;
      cal.merge(r.states[name]!);
      expectSameHistogram(cal.histogram, js.get(name)!.histogram, name);
      expect(Math.abs(r.ranges[name]!.amax - js.get(name)!.compute().amax), name).toBeLessThanOrEqual(js.get(name)!.histogram.binWidth);
    }
  });

  it('falls back to collect() for a batch whose range grows beyond 2^30 at once, with the same result', async () => {
    const batches = batchList([1e-6, 1e4]);
    const q = prepare();
    const spy = spying(resolveCalibratorFactory('percentile'));
    const r = await calibrate(q, loop(batches), { calibrator: spy.factory, inputCalibrator: null, progress: false });
    // The model input grows 1e10-fold > 2^30: that batch is collected from its values.
    expect(spy.calls.collect).toBeGreaterThanOrEqual(1);
    expect(spy.calls.collect + spy.calls.binned).toBe(q.stubs().length * batches.length);
    const js = await viaCollect(q, 'percentile', batches);
    for (const s of q.stubs()) {
      const name = s.tensor.name;
      const cal = resolveCalibratorFactory('percentile')() as HistogramCalibrator;
      cal.merge(r.states[name]!);
      expectSameHistogram(cal.histogram, js.get(name)!.histogram, name);
    }
  });

  it('handles an all-zero tensor (range stays 0) and then real data', async () => {
    const zeros = new ort.Tensor('float32', new Float32Array(2 * 28 * 28), [2, 1, 28, 28]);
    const batches = [zeros, ...batchList()];
    const q = prepare();
    const spy = spying(resolveCalibratorFactory('mse'));
    const r = await calibrate(q, loop(batches), { calibrator: spy.factory, inputCalibrator: null, progress: false });
    expect(spy.calls.collect).toBe(0);
    const js = await viaCollect(q, 'mse', batches);
    for (const s of q.stubs()) {
      const cal = resolveCalibratorFactory('mse')() as HistogramCalibrator;
      cal.merge(r.states[s.tensor.name]!);
      expectSameHistogram(cal.histogram, js.get(s.tensor.name)!.histogram, s.tensor.name);
    }
  });

  it('NaN or ±Infinity inside an activation still fails with a DataError naming the batch and the tensor', async () => {
    const good = feed(1, 2, 3, 4, 5, 6, 7, 8);
    // Not at position 0: onnxruntime's ReduceMin/ReduceMax skip a NaN elsewhere.
    const withNaN = feed(1, 2, 3, 4, 5, 6, -1, 8);
    const withInf = feed(1, 0, 3, 4, 5, 6, 7, 8);
    for (const method of ['entropy', 'percentile', 'mse']) {
      const q = logModel(17);
      const spy = spying(resolveCalibratorFactory(method));
      await calibrate(q, loop([good, good]), { calibrator: spy.factory, progress: false });
      expect(spy.calls).toEqual({ collect: 0, binned: 2 });
      const nan = calibrate(q, loop([good, withNaN]), { calibrator: method, progress: false });
      await expect(nan).rejects.toThrow(DataError);
      await expect(nan).rejects.toThrow(/batch 1, tensor "logged": calibration data contains 1 non-finite value\(s\) \(NaN or ±Infinity\) out of 8/);
      const inf = calibrate(q, loop([good, good, withInf]), { calibrator: method, progress: false });
      await expect(inf).rejects.toThrow(/batch 2, tensor "logged": calibration data contains 1 non-finite value/);
    }
    // minmax's in-graph extrema catch an infinite value (a NaN made inside the network
    // is skipped by ReduceMin/ReduceMax: minmax then takes the range of the finite values).
    const q = logModel(17);
    await expect(calibrate(q, loop([withInf]), { calibrator: 'minmax', progress: false })).rejects.toThrow(/batch 0, tensor "logged".*non-finite/);
  });

  it('models below opset 13 get collect() (values), with the same result', async () => {
    const batches = [feed(1, 2, 3, 4, 5, 6, 7, 8), feed(0.5, 9, 1e-3, 4, 2, 2, 2, 2, 40, 1, 1, 1)];
    const old = spying(resolveCalibratorFactory('entropy'));
    const r11 = await calibrate(logModel(11), loop(batches), { calibrator: old.factory, progress: false });
    expect(old.calls).toEqual({ collect: 2, binned: 0 });
    const recent = spying(resolveCalibratorFactory('entropy'));
    const r17 = await calibrate(logModel(17), loop(batches), { calibrator: recent.factory, progress: false });
    expect(recent.calls).toEqual({ collect: 0, binned: 2 });
    expect(r17.states['logged']).toEqual(r11.states['logged']);
  });

  it('bins the graph cannot handle (> 32767) fall back to collect() for every batch', async () => {
    const q = prepare();
    const spy = spying(resolveCalibratorFactory('percentile'));
    const factory: CalibratorFactory = () => spy.factory({ bins: 40000 });
    await calibrate(q, loop(batchList()), { calibrator: factory, inputCalibrator: null, progress: false });
    expect(spy.calls).toEqual({ collect: q.stubs().length * 4, binned: 0 });
  });
});
