import * as ort from 'onnxruntime-node';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import {
  DataError, applyCalibrationStates, calibrate, definePattern, input, insertQdq, loadModel, modelToBytes, op, openNpy,
  registerCalibrator, saveModel, usePlugin, transform, type Calibrator, type ForwardLoop, type Model,
} from '../src/index.js';
import calibrators from '@qdeploy/calibrators';
import { vendored } from './helpers/fixtures.js';

// A tiny pattern table so core's tests need no backend: every Conv's input and every Gemm's input is stubbed.
const CONV = definePattern({ name: 'Conv', root: op(['Conv', 'Gemm'], [input('input')]), qdqPoints: ['input'] });

const calib = openNpy(path.join(__dirname, 'fixtures/data/calib_64.npy'));
const batches = (n: number, size = 16): ForwardLoop => async (run) => {
  for (let i = 0; i < n; i += size) {
    const k = Math.min(size, n - i);
    await run(new ort.Tensor('float32', calib.readRows(i, k) as Float32Array, [k, 1, 28, 28]));
  }
};

function prepare() {
  const { model, matches } = transform(loadModel(vendored('fmnist_resnet.onnx')), { patterns: [CONV] });
  return { model, q: insertQdq(model, matches) };
}

/** max |x| of each tensor, computed directly with onnxruntime over the same 64 images. */
async function directAbsMax(model: Model, names: string[]): Promise<Record<string, number>> {
  const m = model.clone();
  for (const n of names) if (!m.graph.outputs.includes(m.graph.value(n)!)) m.graph.outputs.push(m.graph.value(n)!);
  const s = await ort.InferenceSession.create(modelToBytes(m));
  const out = await s.run({ input: new ort.Tensor('float32', calib.readRows(0, 64) as Float32Array, [64, 1, 28, 28]) });
  return Object.fromEntries(names.map((n) => [n, (out[n]!.data as Float32Array).reduce((a, x) => Math.max(a, Math.abs(x)), 0)]));
}

beforeAll(async () => {
  await usePlugin(calibrators);
});

describe('calibrate()', () => {
  it('minmax ranges equal max |x| observed directly, and scale = amax / 127', async () => {
    const { model, q } = prepare();
    const r = await calibrate(q, batches(64), { calibrator: 'minmax', progress: false });
    expect(r.batches).toBe(4);
    expect(r.samples).toBe(64);
    // The one-time parts (session creation and release) are timed within the whole call.
    expect(r.setupSeconds).toBeGreaterThan(0);
    expect(r.releaseSeconds).toBeGreaterThan(0);
    expect(r.setupSeconds + r.releaseSeconds).toBeLessThan(r.seconds);
    const names = q.stubs().map((s) => s.tensor.name);
    const direct = await directAbsMax(model, names);
    for (const s of q.stubs()) {
      expect(s.range!.amax).toBeCloseTo(direct[s.tensor.name]!, 5);
      expect(s.scale[0]).toBeCloseTo(direct[s.tensor.name]! / 127, 7);
      expect(s.zeroPoint[0]).toBe(0);
    }
  });

  it('runs the observation session without the memory pattern, unless the caller asks for it', async () => {
    const create = vi.spyOn(ort.InferenceSession, 'create');
    try {
      await calibrate(prepare().q, batches(16), { calibrator: 'entropy', progress: false });
      expect(create.mock.calls.at(-1)![1]).toMatchObject({ enableMemPattern: false, graphOptimizationLevel: 'all' });
      await calibrate(prepare().q, batches(16), { calibrator: 'entropy', progress: false, sessionOptions: { enableMemPattern: true } });
      expect(create.mock.calls.at(-1)![1]).toMatchObject({ enableMemPattern: true });
    } finally {
      create.mockRestore();
    }
  });

  it('calibrates model inputs with minmax by default, whatever the method', async () => {
    const { q } = prepare();
    await calibrate(q, batches(64), { calibrator: 'entropy', progress: false });
    const inputStub = q.stubs().find((s) => s.tensor.name === 'input')!;
    const xs = calib.readRows(0, 64) as Float32Array;
    expect(inputStub.range!.amax).toBeCloseTo(xs.reduce((a, x) => Math.max(a, Math.abs(x)), 0), 5);
    // Opting out gives the entropy cut, which clips the foreground of these images.
    const { q: q2 } = prepare();
    await calibrate(q2, batches(64), { calibrator: 'entropy', inputCalibrator: null, progress: false });
    expect(q2.stubs().find((s) => s.tensor.name === 'input')!.range!.amax).toBeLessThan(inputStub.range!.amax / 2);
  });

  it('stops at the sample limit, cutting a batch when needed', async () => {
    const { q } = prepare();
    const r = await calibrate(q, batches(64), { calibrator: 'minmax', limit: 40, progress: false });
    expect(r.samples).toBe(40);
    expect(r.batches).toBe(3);
  });

  it('sharded calibration merges to the same ranges as one run', async () => {
    const { q: whole } = prepare();
    await calibrate(whole, batches(64), { calibrator: 'percentile', progress: false });
    const { q: sharded } = prepare();
    const half = (from: number): ForwardLoop => async (run) => {
      await run(new ort.Tensor('float32', calib.readRows(from, 32) as Float32Array, [32, 1, 28, 28]));
    };
    const a = await calibrate(sharded, half(0), { calibrator: 'percentile', apply: false, progress: false });
    const b = await calibrate(sharded, half(32), { calibrator: 'percentile', apply: false, progress: false });
    expect(sharded.uncalibrated().length).toBe(sharded.stubs().length);
    const states = JSON.parse(JSON.stringify([a.states, b.states]));
    applyCalibrationStates(sharded, states);
    for (const s of whole.stubs()) {
      const t = sharded.stubs().find((x) => x.tensor.name === s.tensor.name)!;
      expect(t.range!.amax).toBeCloseTo(s.range!.amax, 2);
    }
  });

  it('rejects empty data, NaN input and wrong shapes with the batch named', async () => {
    const { q } = prepare();
    await expect(calibrate(q, async () => {}, { calibrator: 'minmax', progress: false })).rejects.toThrow(DataError);
    const nan = new Float32Array(28 * 28);
    nan[5] = NaN;
    await expect(calibrate(q, async (run) => run(new ort.Tensor('float32', nan, [1, 1, 28, 28])), { calibrator: 'minmax', progress: false })).rejects.toThrow(/batch 0.*NaN|NaN.*batch 0/);
    await expect(calibrate(q, async (run) => run(new ort.Tensor('float32', new Float32Array(32 * 32), [1, 1, 32, 32])), { calibrator: 'minmax', progress: false })).rejects.toThrow(/input.*28/);
  });

  it('saves before calibration with a warning, and quietly after', async () => {
    const { q } = prepare();
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qdeploy-'));
    await saveModel(q, path.join(dir, 'placeholder.onnx'));
    await new Promise((r) => setImmediate(r));
    expect(warnings.join()).toMatch(/activation quantizers are not calibrated/);
    warnings.length = 0;
    await calibrate(q, batches(16), { calibrator: 'minmax', progress: false });
    await saveModel(q, path.join(dir, 'calibrated.onnx'));
    await new Promise((r) => setImmediate(r));
    process.off('warning', onWarning);
    expect(warnings).toEqual([]);
    const back = loadModel(path.join(dir, 'calibrated.onnx'));
    const scales = back.graph.nodesOf('QuantizeLinear').map((n) => n.input(1)!.constant()!.toFloat32()[0]!);
    expect(scales.length).toBe(q.stubs().length);
    expect(scales.every((s) => s > 0 && s !== 1)).toBe(true);
  });

  it('gives an all-zero tensor a safe scale', async () => {
    const { q } = prepare();
    await calibrate(q, async (run) => run(new ort.Tensor('float32', new Float32Array(2 * 28 * 28), [2, 1, 28, 28])), { calibrator: 'minmax', progress: false });
    const stub = q.stubs().find((s) => s.tensor.name === 'input')!;
    expect(stub.range!.amax).toBe(0);
    expect(stub.scale[0]).toBe(1);
  });

  it('uses a custom calibrator registered by name', async () => {
    const seen: number[] = [];
    registerCalibrator('constant-three', (): Calibrator => ({
      method: 'constant-three',
      collect: (v) => void seen.push(v.length),
      compute: () => ({ amax: 3, min: -3, max: 3 }),
      state: () => ({ method: 'constant-three', version: 1 }),
      merge: () => {},
    }));
    const { q } = prepare();
    await calibrate(q, batches(16), { calibrator: 'constant-three', inputCalibrator: null, progress: false });
    expect(q.stubs().every((s) => s.range!.amax === 3)).toBe(true);
    expect(seen.length).toBe(q.stubs().length);
    await expect(calibrate(q, batches(16), { calibrator: 'nope', progress: false })).rejects.toThrow(/unknown calibrator "nope"/);
  });
});
