// The parts of QAT that need no onnxruntime: optimizers, schedules, clipping, checkpoints,
// labelled training data.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AdamW, Sgd, batchesPerEpoch, clipGradNorm, configSchema, decodeCheckpoint, encodeCheckpoint, imageClassDataset, lrSchedule, npyDataset,
  resolveLoss, saveCheckpoint, loadCheckpoint, shuffledOrder, trainingBatches, writeNpy,
} from '../src/index.js';
import { tmpDir } from './helpers/fixtures.js';
import { simdAdamW } from '../src/qat/adamw-simd.js';
import { ADAMW_WASM } from '../src/qat/wasm/adamw.wasm.js';
import { compileAdamW } from '../../../scripts/gen-wasm.mjs';

describe('optimizers', () => {
  it('SGD with momentum follows v = μv + g + λw, w −= lr·v (decay only on decayed parameters)', () => {
    const w = new Float32Array([1, -2]);
    const b = new Float32Array([0.5]);
    const sgd = new Sgd({ type: 'sgd', momentum: 0.9, weightDecay: 0.1 });
    const params = [{ name: 'w', value: w, decay: true }, { name: 'b', value: b, decay: false }];
    sgd.step(params, [new Float32Array([0.5, 1]), new Float32Array([2])], 0.1);
    // v = g + 0.1 w = [0.6, 0.8]; w = [1 - 0.06, -2 - 0.08]
    expect(w[0]).toBeCloseTo(0.94, 6);
    expect(w[1]).toBeCloseTo(-2.08, 6);
    expect(b[0]).toBeCloseTo(0.3, 6);
    sgd.step(params, [new Float32Array([0, 0]), new Float32Array([0])], 0.1);
    // v = 0.9·0.6 + 0.1·0.94 = 0.634
    expect(w[0]).toBeCloseTo(0.94 - 0.0634, 6);
    expect(b[0]).toBeCloseTo(0.3 - 0.1 * 1.8, 6);
  });

  it('AdamW matches torch.optim.AdamW: bias-corrected moments, decoupled decay', () => {
    const w = new Float32Array([1]);
    const adam = new AdamW({ type: 'adamw', weightDecay: 0.01 });
    const params = [{ name: 'w', value: w, decay: true }];
    const grads = [0.5, -0.25, 1];
    let m = 0, v = 0, ref = 1;
    grads.forEach((g, t) => {
      adam.step(params, [new Float32Array([g])], 1e-2);
      m = 0.9 * m + 0.1 * g;
      v = 0.999 * v + 0.001 * g * g;
      ref = ref * (1 - 1e-2 * 0.01) - (1e-2 * (m / (1 - 0.9 ** (t + 1)))) / (Math.sqrt(v / (1 - 0.999 ** (t + 1))) + 1e-8);
    });
    expect(w[0]).toBeCloseTo(ref, 6);
    expect(adam.state().step).toBe(3);
    const copy = new AdamW({ type: 'adamw' });
    copy.loadState(adam.state());
    expect(copy.state().buffers['w/exp_avg']![0]).toBeCloseTo(m, 6);
  });

  it('AdamW in WebAssembly (the default) gives the JavaScript loop\'s weights and moments to float32 rounding, chunks and tails included', () => {
    expect(simdAdamW()).not.toBeNull();
    const n = (1 << 16) * 2 + 7; // two whole chunks and a tail that is no multiple of 4
    const make = () => [
      { name: 'w', value: Float32Array.from({ length: n }, (_, i) => Math.sin(i)), decay: true },
      { name: 's', value: Float32Array.from({ length: 5 }, (_, i) => 0.1 + i), decay: false, lrFactor: 10 },
    ];
    const grads = (t: number) => [Float32Array.from({ length: n }, (_, i) => Math.cos(i * (t + 1)) * 1e-2), Float32Array.from({ length: 5 }, (_, i) => i - 2)];
    const [simd, loop] = [new AdamW({ type: 'adamw', weightDecay: 0.05 }), new AdamW({ type: 'adamw', weightDecay: 0.05 }, false)];
    const [a, b] = [make(), make()];
    for (let t = 0; t < 3; t++) {
      simd.step(a, grads(t), 1e-3);
      loop.step(b, grads(t), 1e-3);
    }
    const close = (x: Float32Array, y: Float32Array) => x.every((v, i) => Math.abs(v - y[i]!) <= 1e-6 * Math.max(1, Math.abs(y[i]!)));
    expect(a[0]!.value.some((v, i) => v !== Math.fround(Math.sin(i)))).toBe(true); // it moved
    for (let k = 0; k < 2; k++) expect(close(a[k]!.value, b[k]!.value)).toBe(true);
    for (const key of ['w/exp_avg', 'w/exp_avg_sq', 's/exp_avg_sq']) expect(close(simd.state().buffers[key]!, loop.state().buffers[key]!)).toBe(true);
  });

  it('adamw.wasm.ts is adamw.wat as wabt compiles it (regenerate: npm run gen:wasm)', async () => {
    expect(Array.from(ADAMW_WASM)).toEqual(Array.from(await compileAdamW()));
  });

  it('a parameter\'s lrFactor scales its own update only (learned weight scales), in AdamW and SGD', () => {
    for (const make of [() => new AdamW({ type: 'adamw' }), () => new Sgd({ type: 'sgd', momentum: 0.9 })]) {
      const opt = make();
      const [a, b] = [new Float32Array([1]), new Float32Array([1])];
      opt.step([{ name: 'a', value: a, decay: false }, { name: 'b', value: b, decay: false, lrFactor: 0.25 }], [new Float32Array([0.5]), new Float32Array([0.5])], 1e-2);
      expect(1 - a[0]!).toBeGreaterThan(0);
      expect(1 - b[0]!).toBeCloseTo((1 - a[0]!) * 0.25, 7);
    }
  });

  it('schedules: linear warm-up, then cosine down to minLr; constant stays', () => {
    const s = lrSchedule(1, 110, { type: 'cosine', warmupSteps: 10, minLr: 0.1 });
    expect(s(0)).toBeCloseTo(1 / 11, 9);
    expect(s(9)).toBeCloseTo(10 / 11, 9);
    expect(s(10)).toBeCloseTo(1, 9);
    expect(s(60)).toBeCloseTo(0.55, 9);
    expect(s(110)).toBeCloseTo(0.1, 9);
    expect(lrSchedule(0.5, 10)(7)).toBe(0.5);
    expect(() => lrSchedule(0, 10)).toThrow(/lr must be a positive number/);
    expect(() => lrSchedule(1, 10, { type: 'linear' as 'cosine' })).toThrow(/schedule.type/);
  });

  it('clips by the global norm over all gradients', () => {
    const a = new Float32Array([3]), b = new Float32Array([4]);
    expect(clipGradNorm([a, b], 1)).toBeCloseTo(5, 6);
    expect(Math.hypot(a[0]!, b[0]!)).toBeCloseTo(1, 4);
    const c = new Float32Array([0.3]);
    clipGradNorm([c], 1);
    expect(c[0]).toBeCloseTo(0.3, 7);
  });

  it('losses: defaults and their bounds', () => {
    expect(resolveLoss(undefined)).toEqual({ type: 'cross-entropy', labelSmoothing: 0.2 });
    expect(resolveLoss({ type: 'cross-entropy', labelSmoothing: 0 })).toEqual({ type: 'cross-entropy', labelSmoothing: 0 });
    expect(resolveLoss('distillation')).toEqual({ type: 'distillation', temperature: 1, alpha: 1, labelSmoothing: 0 });
    expect(() => resolveLoss({ type: 'distillation', temperature: 0 })).toThrow(/temperature/);
    expect(resolveLoss('output-distillation')).toEqual({ type: 'output-distillation' });
    expect(() => resolveLoss('mse' as 'cross-entropy')).toThrow(/"cross-entropy", "distillation" or "output-distillation", got "mse"/);
  });
});

describe('checkpoints', () => {
  const sample = () => ({
    epoch: 2, steps: 40, fingerprint: 'fp', history: [{ epoch: 1 }],
    params: new Map([['w', new Float32Array([1, 2, 3])]]),
    scales: new Map([['x', new Float32Array([0.5])]]),
    weightScales: new Map([['w', new Float32Array([0.25, 0.125])]]),
    runningStats: new Map<string, Float32Array>(),
    optimizer: { step: 40, buffers: { 'w/exp_avg': new Float32Array([0.1, 0.2, 0.3]) } },
  });

  it('round-trip through bytes, and a folder write leaves no temporary file', async () => {
    const c = decodeCheckpoint(encodeCheckpoint(sample()), 'mem');
    expect(c.epoch).toBe(2);
    expect(Array.from(c.params.get('w')!)).toEqual([1, 2, 3]);
    expect(c.scales.get('x')![0]).toBe(0.5);
    expect(Array.from(c.weightScales.get('w')!)).toEqual([0.25, 0.125]);
    expect(Array.from(c.optimizer.buffers['w/exp_avg']!)).toEqual([0.1, 0.2, 0.3].map(Math.fround));
    const dir = path.join(tmpDir(), 'ckpt');
    expect(await loadCheckpoint(dir)).toBeNull();
    await saveCheckpoint(dir, sample());
    await saveCheckpoint(dir, { ...sample(), epoch: 3 });
    expect(fs.readdirSync(dir)).toEqual(['qat-checkpoint.bin']);
    expect((await loadCheckpoint(dir))!.epoch).toBe(3);
    const bytes = encodeCheckpoint(sample());
    expect(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 4), 'cut.bin')).toThrow(/cut.bin: checkpoint truncated/);
    expect(() => decodeCheckpoint(new Uint8Array(16), 'x.bin')).toThrow(/not a qdeploy QAT checkpoint/);
  });
});

describe('training data', () => {
  const dir = tmpDir();
  const x = Float32Array.from({ length: 10 * 4 }, (_, i) => i);
  writeNpy(path.join(dir, 'x.npy'), x, [10, 1, 2, 2]);
  writeNpy(path.join(dir, 'y.npy'), BigInt64Array.from({ length: 10 }, (_, i) => BigInt(i % 3)), [10]);
  writeNpy(path.join(dir, 'y_short.npy'), BigInt64Array.from([1n, 2n]), [2]);

  it('a shuffle is a permutation, the same for the same (seed, epoch), another for the next epoch', () => {
    const a = shuffledOrder(100, 7, 0);
    expect([...a].sort((p, q) => p - q)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(Array.from(shuffledOrder(100, 7, 0))).toEqual(Array.from(a));
    expect(Array.from(shuffledOrder(100, 7, 1))).not.toEqual(Array.from(a));
  });

  it('.npy x/y pairs: fixed batches, shuffled, the last partial batch dropped, labels with their samples', async () => {
    const ds = npyDataset(path.join(dir, 'x.npy'), path.join(dir, 'y.npy'));
    expect(batchesPerEpoch(ds.size, 4)).toBe(2);
    const seen: number[] = [];
    for await (const b of trainingBatches(ds, { batchSize: 4, inputName: 'input', seed: 1, epoch: 0 })) {
      const t = b.inputs.input!;
      expect(t.dims).toEqual([4, 1, 2, 2]);
      const data = t.data as Float32Array;
      for (let k = 0; k < 4; k++) {
        const sample = data[k * 4]! / 4;
        seen.push(sample);
        expect(b.labels![k]).toBe(sample % 3);
      }
    }
    expect(seen.length).toBe(8);
    expect(new Set(seen).size).toBe(8);
    expect(seen).not.toEqual([...seen].sort((p, q) => p - q));
    expect(() => npyDataset(path.join(dir, 'x.npy'), path.join(dir, 'y_short.npy'))).toThrow(/2 labels for 10 samples/);
    ds.close();
  });

  it('an image folder with one sub-folder per class', async () => {
    const ds = await imageClassDataset(path.join(__dirname, 'fixtures/data/images'), { crop: 8, channels: 1 });
    expect(ds.classes).toEqual(['a', 'b']);
    expect(ds.size).toBe(6);
    const labels = new Int32Array(6);
    await ds.read([0, 1, 2, 3, 4, 5], new Float32Array(6 * 64), labels);
    expect(Array.from(labels)).toEqual([0, 0, 0, 1, 1, 1]);
  });

  it('the config file takes a qat section and names a bad field', () => {
    expect(configSchema.safeParse({ model: 'm.onnx', output: 'o.onnx', backend: 'tensorrt', qat: { data: 'x.npy', labels: 'y.npy', epochs: 2, lr: 1e-4, optimizer: 'adamw', batchSize: 32, loss: 'distillation', checkpointDir: 'ckpt' } }).success).toBe(true);
    const bad = configSchema.safeParse({ model: 'm.onnx', output: 'o.onnx', backend: 'tensorrt', qat: { data: 'x.npy', optimizer: 'adam' } });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n")).toMatch(/qat.optimizer: expected "adamw" or "sgd"/);
  });
});
