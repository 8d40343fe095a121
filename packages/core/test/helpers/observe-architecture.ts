// In-graph observation against every tensor's values through collect(), on a whole network:
// shared by calibrate-observe.test.ts (bundled and generated graphs) and
// calibrate-observe.exports.test.ts (the real EfficientNet-B0 export).
import * as ort from 'onnxruntime-node';
import { expect } from 'vitest';
import {
  DEFAULT_HISTOGRAM_STRIDE, calibrate, definePattern, input, insertQdq, observationSession, op, resolveCalibratorFactory,
  sampleGrid, sampleStrideOf, transform, usePlugin, type Calibrator, type Model,
} from '../../src/index.js';
import calibrators, { type HistogramCalibrator } from '@qdeploy/calibrators';

// Stubs on the inputs of every Conv, Gemm, MatMul and Add: depthwise convs, ReLU6
// (Clip), SiLU (x·sigmoid(x): a broadcast of two computed tensors), squeeze-excite
// scales, 3-D transformer activations.
const ANY = definePattern({ name: 'Any', root: op(['Conv', 'Gemm', 'MatMul', 'Add'], [input('input')]), qdqPoints: ['input'] });

/** calibrate()'s minmax ranges and entropy histograms equal those collected from the values, on two random batches of `shape`. */
export async function checkObservedAsValues(source: Model, shape: readonly number[]): Promise<void> {
  await usePlugin(calibrators);
  const { model, matches } = transform(source, { patterns: [ANY] });
  const n = shape.reduce((a, b) => a * b, 1);
  let seed = 7;
  const u = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const feeds = [0, 1].map(() => new ort.Tensor('float32', Float32Array.from({ length: n }, () => 4 * u() - 2), [...shape]));
  const names = insertQdq(model, matches).stubs().map((s) => s.tensor.name);
  expect(names.length).toBeGreaterThan(10);
  // The reference: every tensor's values through collect().
  const session = await observationSession(model, names);
  const ref = new Map<string, Map<string, Calibrator>>();
  try {
    for (const method of ['minmax', 'entropy']) {
      const cals = new Map(names.map((name) => [name, resolveCalibratorFactory(method)()]));
      for (const f of feeds) {
        const out = await session.run({ input: f }, names);
        for (const name of names) {
          // Histogram methods see 4-D tensors on calibrate()'s default grid.
          const stride = method === 'minmax' ? 1 : sampleStrideOf(model, name, DEFAULT_HISTOGRAM_STRIDE);
          cals.get(name)!.collect(sampleGrid(out[name]!.data as Float32Array, out[name]!.dims, stride));
        }
      }
      ref.set(method, cals);
    }
  } finally {
    await session.release();
  }
  // The observation graph runs some ops in other layouts (NCHWc) than the values
  // session, so a value can differ in its last bit (a sum in another order): extrema
  // agree to float32 precision, and the histograms up to the values moved across an
  // edge — not amax, which a sparse histogram (a 1152-value squeeze-excite tensor)
  // can move by many bins for one such value.
  for (const method of ['minmax', 'entropy']) {
    const q = insertQdq(model, matches);
    const r = await calibrate(q, async (run) => { for (const f of feeds) await run(f); }, { calibrator: method, inputCalibrator: null, progress: false });
    for (const name of names) {
      const cal = ref.get(method)!.get(name)!;
      if (method === 'minmax') {
        const want = cal.compute();
        const got = r.ranges[name]!;
        for (const k of ['amax', 'min', 'max'] as const) expect(Math.abs(got[k] - want[k]), `${name} ${k}`).toBeLessThanOrEqual(2e-7 * Math.abs(want[k]));
        continue;
      }
      const got = resolveCalibratorFactory(method)() as HistogramCalibrator;
      got.merge(r.states[name]!);
      const want = (cal as HistogramCalibrator).histogram;
      const h = got.histogram;
      expect(h.count, name).toBe(want.count);
      expect(Math.abs(h.range - want.range), name).toBeLessThanOrEqual(2e-7 * want.range);
      let carried = 0;
      let moved = 0;
      for (let k = 0; k < h.bins; k++) {
        carried += h.counts[k]! - want.counts[k]!;
        moved += Math.abs(carried);
      }
      expect(carried, name).toBe(0);
      expect(moved, name).toBeLessThanOrEqual(Math.max(4, want.count * 1e-3));
    }
  }
}
