import * as ort from 'onnxruntime-node';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_HISTOGRAM_STRIDE, DataError, DataType, Graph, Model, calibrate, definePattern, input, insertQdq, loadModel, modelToBytes, op, openNpy,
  resolveCalibratorFactory, sampleGrid, sampleStrideOf, transform, usePlugin, type CalibratorFactory, type ForwardLoop,
} from '../src/index.js';
import calibrators, { type HistogramCalibrator } from '@qdeploy/calibrators';
import { vendored } from './helpers/fixtures.js';

// Histogram methods see 4-D feature maps on a grid of every s-th row and column
// (calibrate's histogramStride): in the graph (a 1×1 MaxPool) and in JS (sampleGrid) alike.

const CONV = definePattern({ name: 'Conv', root: op(['Conv', 'Gemm'], [input('input')]), qdqPoints: ['input'] });
const calib = openNpy(path.join(__dirname, 'fixtures/data/calib_64.npy'));
const batches = [0, 1].map((b) => new ort.Tensor('float32', Float32Array.from(calib.readRows(b * 16, 16) as Float32Array), [16, 1, 28, 28]));
const loop = (list: readonly ort.Tensor[]): ForwardLoop => async (run) => {
  for (const b of list) await run(b);
};

function fmnist() {
  const { model, matches } = transform(loadModel(vendored('fmnist_resnet.onnx')), { patterns: [CONV] });
  return insertQdq(model, matches);
}

/** x (N×8×H×W) -> Log -> Relu, the Log output stubbed by hand: a 4-D tensor with a NaN wherever x < 0. */
function logModel4d(h: number, w: number) {
  const g = new Graph();
  const x = g.getOrCreateValue('x');
  x.type = { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'n' }, { dimValue: 8 }, { dimValue: h }, { dimValue: w }] } } };
  g.inputs.push(x);
  const y = g.addNode({ opType: 'Log', name: 'log', inputs: [x], outputs: [g.getOrCreateValue('logged')] }).output();
  g.outputs.push(g.addNode({ opType: 'Relu', name: 'relu', inputs: [y], outputs: [g.getOrCreateValue('z')] }).output());
  const RELU = definePattern({ name: 'Relu', root: op('Relu', [input('input')]), qdqPoints: ['input'] });
  const { model, matches } = transform(new Model(g, { irVersion: 8, opsetImport: [{ domain: '', version: 17 }] }), { patterns: [RELU] });
  return insertQdq(model, matches);
}

beforeAll(async () => {
  await usePlugin(calibrators);
});

describe('sampleGrid', () => {
  it('takes rows and columns 0, s, 2s, … of every plane, as a 1×1 MaxPool with strides s does in onnxruntime', async () => {
    for (const [h, w, s] of [[5, 7, 2], [7, 7, 3], [1, 1, 2], [4, 6, 4], [3, 3, 1]] as const) {
      const dims = [2, 3, h, w];
      const x = Float32Array.from({ length: 2 * 3 * h * w }, (_, i) => i * 0.5 - 7);
      const g = new Graph();
      const xin = g.getOrCreateValue('x');
      xin.type = { tensorType: { elemType: DataType.FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } };
      g.inputs.push(xin);
      g.outputs.push(g.addNode({ opType: 'MaxPool', name: 'pool', inputs: [xin], outputs: [g.getOrCreateValue('y')], attrs: { kernel_shape: [1, 1], strides: [s, s] } }).output());
      const session = await ort.InferenceSession.create(modelToBytes(new Model(g, { irVersion: 8, opsetImport: [{ domain: '', version: 17 }] })));
      try {
        const want = (await session.run({ x: new ort.Tensor('float32', x, dims) })).y!;
        const got = sampleGrid(x, dims, s);
        expect(got.length, `${h}×${w} s=${s}`).toBe(2 * 3 * Math.ceil(h / s) * Math.ceil(w / s));
        expect(Array.from(got), `${h}×${w} s=${s}`).toEqual(Array.from(want.data as Float32Array));
      } finally {
        await session.release();
      }
    }
  });

  it('leaves other ranks, and stride 1, alone', () => {
    const x = new Float32Array(24);
    expect(sampleGrid(x, [2, 3, 4], 2)).toBe(x);
    expect(sampleGrid(x, [1, 2, 3, 4], 1)).toBe(x);
  });

  it('applies to the tensors the graph shows to be 4-D only', () => {
    const q = fmnist();
    const strides = Object.fromEntries(q.stubs().map((s) => [s.tensor.name, sampleStrideOf(q.model, s.tensor.name, 2)]));
    expect(strides['input']).toBe(2); // declared N×1×28×28
    expect(strides['/l1/l1.0/c1/c1.2/Relu_output_0']).toBe(2);
    expect(strides['/Flatten_output_0']).toBe(1); // N×128, into the Gemm
    expect(sampleStrideOf(q.model, 'input', 1)).toBe(1);
  });
});

describe('calibrate(): histogramStride', () => {
  it(`counts a quarter of a 28×28 map by default (stride ${DEFAULT_HISTOGRAM_STRIDE}) and every value with stride 1`, async () => {
    const counts = async (histogramStride?: number) => {
      const r = await calibrate(fmnist(), loop(batches), { calibrator: 'entropy', inputCalibrator: null, histogramStride, progress: false });
      const count = (name: string) => {
        const c = resolveCalibratorFactory('entropy')() as HistogramCalibrator;
        c.merge(r.states[name]!);
        return c.histogram.count;
      };
      return { relu: count('/l1/l1.0/c1/c1.2/Relu_output_0'), flat: count('/Flatten_output_0'), l3: count('/l3/l3.0/c1/c1.2/Relu_output_0') };
    };
    const full = await counts(1);
    const sampled = await counts(undefined);
    expect(full.relu).toBe(32 * 32 * 28 * 28); // 2 batches of 16, 32 channels
    expect(sampled.relu).toBe(32 * 32 * 14 * 14);
    expect(sampled.l3).toBe(32 * 128 * 4 * 4); // 7×7 -> rows and columns 0, 2, 4, 6
    expect(full.l3).toBe(32 * 128 * 7 * 7);
    expect(sampled.flat).toBe(full.flat); // not 4-D: every value
  });

  it('feeds the values path (bins beyond what the graph bins) the same grid as the graph', async () => {
    const factory: CalibratorFactory = () => resolveCalibratorFactory('percentile')({ bins: 40000 });
    const r = await calibrate(fmnist(), loop(batches), { calibrator: factory, inputCalibrator: null, progress: false });
    const c = resolveCalibratorFactory('percentile')({ bins: 40000 }) as HistogramCalibrator;
    c.merge(r.states['/l1/l1.0/c1/c1.2/Relu_output_0']!);
    expect(c.histogram.count).toBe(32 * 32 * 14 * 14);
  });

  it('still reports a NaN that lies off the grid, naming the batch and the tensor', async () => {
    const good = new ort.Tensor('float32', new Float32Array(2 * 8 * 4 * 4).fill(2), [2, 8, 4, 4]);
    const bad = new Float32Array(2 * 8 * 4 * 4).fill(2);
    bad[1 * 128 + 5 * 16 + 1 * 4 + 3] = -1; // image 1, channel 5, row 1, column 3: off the stride-2 grid
    expect(sampleStrideOf(logModel4d(4, 4).model, 'logged', 2)).toBe(2);
    for (const method of ['entropy', 'percentile', 'mse']) {
      const run = calibrate(logModel4d(4, 4), loop([good, new ort.Tensor('float32', bad, [2, 8, 4, 4])]), { calibrator: method, progress: false });
      await expect(run).rejects.toThrow(DataError);
      await expect(run).rejects.toThrow(/batch 1, tensor "logged": calibration data contains 1 non-finite value/);
    }
  });

  it('rejects a stride that is not a positive integer', async () => {
    for (const histogramStride of [0, 1.5, -2]) {
      await expect(calibrate(fmnist(), loop(batches), { calibrator: 'entropy', histogramStride, progress: false })).rejects.toThrow(/histogramStride must be a positive integer, got/);
    }
  });
});
