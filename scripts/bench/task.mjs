// One benchmark measurement in its own process, so peak memory (maxRSS) is its own.
// Usage: node scripts/bench/task.mjs <task> [args...]; prints one JSON line.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadModel, transform, insertQdq, calibrate, openNpy, modelToBytes, saveModel, usePlugin } from '@qdeploy/core';
import { TENSORRT_PATTERNS } from '@qdeploy/backend-tensorrt';
import calibrators from '@qdeploy/calibrators';
import { sharedFixture } from '@qdeploy/core/testing';

const [task, ...args] = process.argv.slice(2);
const root = path.resolve(import.meta.dirname, '../..');
const now = () => performance.now();
const rssMiB = () => process.resourceUsage().maxRSS / 1024;
await usePlugin(calibrators);

/** 512 calibration images: the shared Fashion-MNIST slice when present, else the vendored 64 repeated. */
function calibrationRows() {
  let file;
  try {
    file = sharedFixture('calib_512.npy');
  } catch {
    file = path.join(root, 'packages/core/test/fixtures/data/calib_64.npy');
  }
  const npy = openNpy(file);
  return (i, n) => {
    const out = new Float32Array(n * 784);
    for (let k = 0; k < n; k++) out.set(npy.readRows((i + k) % npy.shape[0], 1), k * 784);
    return out;
  };
}

const tasks = {
  // Plain FP32 inference over the calibration batches vs calibrate() over the same batches,
  // on the trained fashion-MNIST ResNet (real images, batches of 64) or on torchvision's
  // ResNet-18 at 224×224 (synthetic images, batches of 16: its weights are random anyway).
  async calibration(method = 'entropy', samples = '512', which = 'fmnist', histogramStride = '2') {
    const n = Number(samples);
    const feeds = [];
    let file;
    if (which === 'resnet18') {
      file = sharedFixture('resnet18_bn.onnx');
      let seed = 1;
      const uniform = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
      for (let i = 0; i < n; i += 16) {
        const b = Math.min(16, n - i);
        const a = new Float32Array(b * 3 * 224 * 224);
        for (let k = 0; k < a.length; k++) a[k] = (uniform() + uniform() + uniform() - 1.5) * 2;
        feeds.push(new ort.Tensor('float32', a, [b, 3, 224, 224]));
      }
    } else {
      file = path.join(root, 'fixtures/fmnist_resnet.onnx');
      const rows = calibrationRows();
      for (let i = 0; i < n; i += 64) feeds.push(new ort.Tensor('float32', rows(i, Math.min(64, n - i)), [Math.min(64, n - i), 1, 28, 28]));
    }
    const original = loadModel(file);
    const bytes = modelToBytes(original);
    // Plain inference over the batches on a fresh session, session creation excluded —
    // as calibration is measured (its one-time setup is reported apart) — so both include
    // onnxruntime's slower first run; then again on the warm session.
    const infer = async (session) => {
      const t = now();
      for (const f of feeds) await session.run({ input: f });
      return now() - t;
    };
    const fresh = () => ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
    const first = await fresh();
    const cold1 = await infer(first);
    const warmMs = await infer(first);
    await first.release();
    const { model, matches } = transform(original, { patterns: TENSORRT_PATTERNS });
    const q = insertQdq(model, matches);
    const t = now();
    const r = await calibrate(q, async (run) => { for (const f of feeds) await run(f); }, { calibrator: method, progress: false, histogramStride: Number(histogramStride) });
    const calibMs = now() - t;
    // Timed before and after calibrating, against drift on a shared machine.
    const inferMs = (cold1 + (await infer(await fresh()))) / 2;
    // Session creation and release are timed apart, as they are not timed for inference.
    const setupMs = r.setupSeconds * 1000;
    const releaseMs = r.releaseSeconds * 1000;
    const perBatchMs = calibMs - setupMs - releaseMs;
    return { model: which, samples: n, inferMs, warmMs, calibMs, setupMs, releaseMs, perBatchMs, ratio: perBatchMs / inferMs, warmRatio: perBatchMs / warmMs, stubs: q.stubs().length, totalMs: calibMs };
  },
  // Peak memory of a calibration over `samples` images, streamed from disk batch by batch.
  async calibrationMemory(samples) {
    const n = Number(samples);
    const rows = calibrationRows();
    const { model, matches } = transform(loadModel(path.join(root, 'fixtures/fmnist_resnet.onnx')), { patterns: TENSORRT_PATTERNS });
    const q = insertQdq(model, matches);
    const before = rssMiB();
    await calibrate(q, async (run) => {
      for (let i = 0; i < n; i += 32) await run(new ort.Tensor('float32', rows(i, Math.min(32, n - i)), [Math.min(32, n - i), 1, 28, 28]));
    }, { calibrator: 'entropy', progress: false });
    return { samples: n, peakMiB: rssMiB(), beforeMiB: before };
  },
  // A model over 2 GB (external data) through the whole pipeline, calibration included:
  // load → transform → insertQdq → calibrate (minmax, 4 batches of 8) → save.
  async large(file) {
    const t0 = now();
    const m = loadModel(file);
    const t1 = now();
    const { model, matches } = transform(m, { patterns: TENSORRT_PATTERNS });
    const q = insertQdq(model, matches);
    const t2 = now();
    const width = m.graph.inputs[0].shape[1];
    const x = new Float32Array(8 * width).map((_, i) => Math.sin(i * 0.37));
    const r = await calibrate(q, async (run) => { for (let b = 0; b < 4; b++) await run(new ort.Tensor('float32', x, [8, width])); }, { calibrator: 'minmax', progress: false });
    const t3 = now();
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'qdeploy-bench-')), 'large.int8.onnx');
    await saveModel(q.toExportModel(), out, { externalData: true });
    const t4 = now();
    const outBytes = fs.statSync(out).size + fs.statSync(`${out}.data`).size;
    fs.rmSync(path.dirname(out), { recursive: true, force: true });
    return { loadMs: t1 - t0, prepareMs: t2 - t1, calibrateMs: t3 - t2, calibrateSetupMs: r.setupSeconds * 1000, saveMs: t4 - t3, totalMs: t4 - t0, peakMiB: rssMiB(), stubs: q.stubs().length, outBytes };
  },
  // Writes the generated model over 2 GB (the generated CNN/ViT graphs: pipeline-task.mjs).
  async generate(kind, out) {
    if (kind !== 'wide-mlp') throw new Error(`task.mjs generate: unknown kind ${kind} (wide-mlp; others: pipeline-task.mjs)`);
    const { writeWideMlp } = await import('@qdeploy/core/testing');
    const bytes = writeWideMlp(out);
    return { file: out, bytes, peakMiB: rssMiB() };
  },
};

const fn = tasks[task];
if (!fn) {
  console.error(`unknown task ${task}; tasks: ${Object.keys(tasks).join(', ')}`);
  process.exit(2);
}
console.log(JSON.stringify(await fn(...args)));
