// Sharded calibration: n shards of the data, calibrated apart and merged, give the ranges of
// one run over all of it — exactly for minmax, within the histogram's resolution for the
// histogram methods (the shards' histograms grow their ranges differently, then re-bin).
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import calibrators from '@qdeploy/calibrators';
import {
  CALIBRATION_FILE_FORMAT, CALIBRATION_FILE_VERSION, applyCalibrationStates, calibrate, definePattern, input, insertQdq, loadModel, mergeCalibrationFiles,
  npySource, op, parseShard, shardRange, shardSource, toForwardLoop, transform, usePlugin, type CalibrationDataSource, type CalibrationFile,
  type CalibratorState,
} from '../src/index.js';
import { vendored } from './helpers/fixtures.js';

const CALIB_64 = path.join(__dirname, 'fixtures/data/calib_64.npy');
const CONV = definePattern({ name: 'Conv', root: op(['Conv', 'Gemm'], [input('input')]), qdqPoints: ['input'] });

function prepare() {
  const { model, matches } = transform(loadModel(vendored('fmnist_resnet.onnx')), { patterns: [CONV] });
  return insertQdq(model, matches);
}

const open = () => npySource(CALIB_64, { batchSize: 16 });

/** A calibration file around a run's states, as `qdeploy calibrate` writes it. */
function fileOf(states: Record<string, CalibratorState>, index: number, count: number, method: string): CalibrationFile {
  return {
    format: CALIBRATION_FILE_FORMAT, version: CALIBRATION_FILE_VERSION,
    model: { name: 'm.onnx', sha256: '0'.repeat(64) },
    placement: { backend: 'test', tensors: Object.keys(states).sort() },
    method, inputMethod: null, calibratorOptions: {}, histogramStride: 2,
    data: { description: CALIB_64, totalSamples: 64 },
    shards: [{ index, count, samples: 0, batches: 0 }],
    states,
  };
}

beforeAll(async () => {
  await usePlugin(calibrators);
});

describe('shards of a data source', () => {
  it('parses i/n and refuses anything else', () => {
    expect(parseShard('2/8')).toEqual({ index: 2, count: 8 });
    for (const bad of ['8/8', '1/0', '-1/4', 'a/4', '3', '1/2/3']) expect(() => parseShard(bad), bad).toThrow(/is not i\/n with 0 <= i < n/);
  });

  it('splits the samples into contiguous slices that cover them once', () => {
    for (const [total, n] of [[64, 3], [10, 10], [7, 4], [1000, 7]] as const) {
      const ranges = Array.from({ length: n }, (_, i) => shardRange(total, { index: i, count: n }));
      expect(ranges[0]!.start).toBe(0);
      expect(ranges.at(-1)!.end).toBe(total);
      for (let i = 1; i < n; i++) expect(ranges[i]!.start).toBe(ranges[i - 1]!.end);
      const sizes = ranges.map((r) => r.end - r.start);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
  });

  /** Every value a source yields, in order. */
  const values = async (s: CalibrationDataSource) => {
    const out: number[] = [];
    for await (const b of s) out.push(...(Object.values(b.inputs)[0]!.data as Float32Array));
    return out;
  };

  it('an .npy source reads only its slice, and the shards put together are the data', async () => {
    const all = await values(await open());
    const parts = [];
    for (let i = 0; i < 3; i++) {
      const s = shardSource(await open(), { index: i, count: 3 });
      const { start, end } = shardRange(64, { index: i, count: 3 });
      expect(s.totalSamples).toBe(end - start);
      expect(s.description).toContain(`[samples ${start}–${end - 1}]`);
      parts.push(...(await values(s)));
    }
    expect(parts).toEqual(all);
  });

  it('a source without slice() is cut by skipping; one of unknown size is dealt by batch', async () => {
    const src = await open();
    const noSlice: CalibrationDataSource = { description: 'x', totalSamples: 64, [Symbol.asyncIterator]: () => src[Symbol.asyncIterator]() };
    const unknown: CalibrationDataSource = { description: 'y', [Symbol.asyncIterator]: () => src[Symbol.asyncIterator]() };
    const all = await values(src);
    const cut = [];
    const dealt: number[][] = [];
    for (let i = 0; i < 3; i++) {
      cut.push(...(await values(shardSource(noSlice, { index: i, count: 3 }))));
      dealt.push(await values(shardSource(unknown, { index: i, count: 3 })));
    }
    expect(cut).toEqual(all);
    const per = 16 * 28 * 28;
    // Batches 0 and 3 to shard 0, 1 to shard 1, 2 to shard 2.
    expect(dealt.map((d) => d.length / per)).toEqual([2, 1, 1]);
    expect(dealt[1]).toEqual(all.slice(per, 2 * per));
  });

  it('refuses a shard with no samples', async () => {
    expect(() => shardSource(npySourceSync(), { index: 0, count: 4 })).toThrow(/shard 0\/4 of .* is empty: 2 samples for 4 shards/);
  });
});

function npySourceSync(): CalibrationDataSource {
  return { description: 'two.npy', totalSamples: 2, async *[Symbol.asyncIterator]() {} };
}

describe('n shards merged = one run', () => {
  /** One run over all the data, and the merge of 3 shards' calibration files, for `method`. */
  async function bothWays(method: string) {
    const one = await calibrate(prepare(), toForwardLoop(await open()), { calibrator: method, apply: false, progress: false });
    const n = 3;
    const files = [];
    for (let i = 0; i < n; i++) {
      const r = await calibrate(prepare(), toForwardLoop(shardSource(await open(), { index: i, count: n })), { calibrator: method, apply: false, progress: false });
      // Through JSON, as the files travel between machines; merged in another order.
      files.push({ file: `shard_${i}.json`, content: JSON.parse(JSON.stringify(fileOf(r.states, i, n, method))) as CalibrationFile });
    }
    const merged = mergeCalibrationFiles(files.reverse());
    return { one, merged, ranges: applyCalibrationStates(prepare(), [merged.states]) };
  }
  type Hist = CalibratorState & { bins?: number; range?: number; count?: number };
  const binWidth = (st: Hist) => (st.bins ? st.range! / st.bins : 0);

  it('minmax: the same amax, min and max, exactly', async () => {
    const { one, ranges } = await bothWays('minmax');
    expect(ranges).toEqual(one.ranges);
  });

  // The histogram methods: a shard's histogram grows its range from its own first batch,
  // so merging re-bins proportionally, and what is compared is the histogram: its |x|
  // quantiles (read by the percentile method from the same states) within 2 bins, and
  // the same count. percentile's amax is such a quantile; mse's and entropy's are argmins
  // over the histogram, which move further when its bins change a little (they do as
  // much for one run with another batch size; measured in the README).
  it.each(['percentile', 'mse', 'entropy'])('%s: the merged histogram is the one run\'s within 2 bins', async (method) => {
    const { one, merged, ranges } = await bothWays(method);
    expect(Object.keys(ranges).sort()).toEqual(Object.keys(one.ranges).sort());
    const asPercentile = (states: Record<string, CalibratorState>, p: number) => {
      const relabelled = Object.fromEntries(Object.entries(states).map(([t, st]) => [t, st.method === method ? { ...st, method: 'percentile' } : st]));
      return applyCalibrationStates(prepare(), [relabelled], { calibratorOptions: { percentile: p }, method: 'percentile' });
    };
    for (const p of [50, 90, 99, 99.9, 99.99]) {
      const a = asPercentile(one.states, p);
      const b = asPercentile(merged.states, p);
      for (const tensor of Object.keys(a)) {
        const st = merged.states[tensor] as Hist;
        expect(Math.abs(a[tensor]!.amax - b[tensor]!.amax), `${tensor} p${p}: ${b[tensor]!.amax} vs ${a[tensor]!.amax}`).toBeLessThanOrEqual(2 * binWidth(st));
      }
    }
    for (const [tensor, st] of Object.entries(merged.states) as [string, Hist][]) {
      if (st.bins) expect(st.count).toBe((one.states[tensor] as Hist).count);
      else expect(ranges[tensor]).toEqual(one.ranges[tensor]); // the model input: minmax
    }
    if (method === 'percentile') {
      for (const [tensor, r] of Object.entries(one.ranges)) expect(Math.abs(ranges[tensor]!.amax - r.amax)).toBeLessThanOrEqual(2 * binWidth(merged.states[tensor] as Hist));
    }
  });
});
