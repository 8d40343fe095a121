import * as ort from 'onnxruntime-node';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DataType, Graph, Model, Tensor, definePattern, input, insertQdq, loadModel, observationSession, op, openNpy, transform,
  type AttrValue, type Value,
} from '../src/index.js';
import { binnedNames, extremaOutputs } from '../src/calibrate/observe.js';
import { channelsOf } from '../src/calibrate/channels.js';
import { provablyNonNegative } from '../src/calibrate/non-negative.js';
import { buildEfficientNetB0Like } from '../src/testing/index.js';
import { vendored } from './helpers/fixtures.js';
import { checkObservedAsValues } from './helpers/observe-architecture.js';

// The observation graph: what calibration adds to the FP32 graph to get each stubbed
// tensor's extrema and bin indices without copying the tensor out of onnxruntime.

const CONV = definePattern({ name: 'Conv', root: op(['Conv', 'Gemm'], [input('input')]), qdqPoints: ['input'] });
const calib = openNpy(path.join(__dirname, 'fixtures/data/calib_64.npy'));
const batch = () => new ort.Tensor('float32', Float32Array.from(calib.readRows(0, 16) as Float32Array), [16, 1, 28, 28]);

function fmnist() {
  const { model, matches } = transform(loadModel(vendored('fmnist_resnet.onnx')), { patterns: [CONV] });
  const q = insertQdq(model, matches);
  return { model: q.model, names: q.stubs().map((s) => s.tensor.name) };
}

async function values(model: Model, names: string[]): Promise<Record<string, ort.Tensor>> {
  const s = await observationSession(model, names);
  try {
    return await s.run({ input: batch() }, names);
  } finally {
    await s.release();
  }
}

const extrema = (t: ort.Tensor) => {
  let min = Infinity;
  let max = -Infinity;
  for (const x of t.data as Float32Array) {
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return { min, max };
};

describe('channelsOf', () => {
  it('finds the channel count of every 4-D activation of the fmnist ResNet, and nothing for the flattened one', async () => {
    const { model, names } = fmnist();
    const out = await values(model, names);
    for (const n of names) {
      const dims = out[n]!.dims;
      expect(channelsOf(model.graph.value(n)!), n).toBe(dims.length === 4 ? dims[1] : null);
    }
  });

  it('follows broadcasts, concatenation and channel-keeping ops, and gives up when the graph does not tell', () => {
    const g = new Graph();
    const x = g.getOrCreateValue('x'); // no declared shape
    g.inputs.push(x);
    const conv = (cout: number, from: Value) =>
      g.addNode({ opType: 'Conv', inputs: [from, g.addInitializer(g.uniqueName('w'), Tensor.fromArray(new Float32Array(cout * 9), [cout, 1, 3, 3]))] }).output();
    const node = (opType: string, inputs: Value[], attrs?: Record<string, number>) => g.addNode({ opType, inputs, ...(attrs ? { attrs } : {}) }).output();
    const a = conv(8, x);
    const one = conv(1, x); // N×1×H×W: a broadcast against it keeps the other operand's 8
    expect(channelsOf(node('Relu', [a]))).toBe(8);
    expect(channelsOf(node('Mul', [one, a]))).toBe(8);
    expect(channelsOf(node('Add', [one, g.addInitializer('c', Tensor.fromArray(new Float32Array(6), [6, 1, 1]))]))).toBe(6);
    expect(channelsOf(node('Concat', [a, node('Relu', [one])], { axis: 1 }))).toBe(9);
    expect(channelsOf(node('Concat', [a, one], { axis: 2 }))).toBeNull();
    expect(channelsOf(node('Add', [a, x]))).toBeNull(); // x: unknown rank
    expect(channelsOf(x)).toBeNull();
    expect(channelsOf(node('Flatten', [a]))).toBeNull();
  });
});

describe('provablyNonNegative', () => {
  it('knows ReLU-like outputs, non-negative Clips, and what pooling, reshaping and adding them keeps', () => {
    const g = new Graph();
    const x = g.getOrCreateValue('x');
    g.inputs.push(x);
    const node = (opType: string, inputs: (Value | null)[], attrs?: Record<string, AttrValue>) =>
      g.addNode({ opType, inputs, ...(attrs ? { attrs } : {}) }).output();
    const scalar = (v: number) => g.addInitializer(g.uniqueName('c'), Tensor.fromArray(new Float32Array([v]), []));
    const conv = node('Conv', [x, g.addInitializer('w', Tensor.fromArray(new Float32Array(9), [1, 1, 3, 3]))]);
    const relu = node('Relu', [conv]);
    expect(provablyNonNegative(x)).toBe(false);
    expect(provablyNonNegative(conv)).toBe(false);
    expect(provablyNonNegative(relu)).toBe(true);
    expect(provablyNonNegative(node('Sigmoid', [conv]))).toBe(true);
    expect(provablyNonNegative(node('Clip', [conv, scalar(0), scalar(6)]))).toBe(true); // ReLU6
    expect(provablyNonNegative(node('Clip', [conv, scalar(-1), scalar(1)]))).toBe(false);
    expect(provablyNonNegative(node('Clip', [conv, null, scalar(6)]))).toBe(false); // no lower bound
    expect(provablyNonNegative(node('Clip', [conv], { min: 0, max: 6 }))).toBe(true); // opset < 11
    expect(provablyNonNegative(node('Flatten', [node('GlobalAveragePool', [node('MaxPool', [relu], { kernel_shape: [2, 2] })])]))).toBe(true);
    expect(provablyNonNegative(node('Add', [relu, node('Relu', [x])]))).toBe(true);
    expect(provablyNonNegative(node('Add', [relu, conv]))).toBe(false);
    expect(provablyNonNegative(node('Max', [conv, relu]))).toBe(true);
    expect(provablyNonNegative(node('Min', [conv, relu]))).toBe(false);
    expect(provablyNonNegative(node('Pad', [relu, g.addInitializer('pads', Tensor.fromArray(new BigInt64Array(8), [8])), scalar(-1)]))).toBe(false);
    expect(provablyNonNegative(node('Pad', [relu, g.addInitializer('pads2', Tensor.fromArray(new BigInt64Array(8), [8]))]))).toBe(true);
    expect(provablyNonNegative(node('Neg', [relu]))).toBe(false);
  });
});

describe('observationSession', () => {
  it('reduces 4-D tensors per channel in the graph (GlobalMaxPool, depthwise −1 Conv), others with Reduce ops, to the exact extrema', async () => {
    const { model, names } = fmnist();
    const session = await observationSession(model, [], {}, names);
    let out: Record<string, ort.Tensor>;
    try {
      out = await session.run({ input: batch() });
    } finally {
      await session.release();
    }
    const want = await values(model, names);
    let negative = 0;
    let minSkipped = 0;
    for (const n of names) {
      const e = extrema(want[n]!);
      const o = extremaOutputs(n);
      expect(Number(out[o.max]!.data[0]), `${n} max`).toBe(e.max);
      if (e.min < 0) negative++;
      if (provablyNonNegative(model.graph.value(n)!)) {
        // No min output (it counts as 0): the negating Conv is not there.
        expect(o.min in out, n).toBe(false);
        expect(e.min, n).toBeGreaterThanOrEqual(0);
        minSkipped++;
        continue;
      }
      // == compares -0 and 0 as equal: x·(−1) of a ReLU zero is −0.
      expect(Number(out[o.min]!.data[0]) == e.min, `${n} min`).toBe(true);
    }
    expect(negative).toBeGreaterThanOrEqual(1); // the normalised input image
    expect(minSkipped).toBeGreaterThanOrEqual(10); // the ReLU outputs
  });

  it('bins x into the signed floor of x / w, w = range / bins: the bin of |x| is i or −i−1', async () => {
    const { model, names } = fmnist();
    const bins = 2048;
    const session = await observationSession(model, [], {}, [], names.map((name) => ({ name, bins })));
    const feeds: Record<string, ort.Tensor> = { input: batch() };
    for (const n of names) feeds[binnedNames(n).range] = new ort.Tensor('float32', new Float32Array([0]), []);
    let out: Record<string, ort.Tensor>;
    try {
      out = await session.run(feeds);
    } finally {
      await session.release();
    }
    const want = await values(model, names);
    for (const n of names) {
      const b = binnedNames(n);
      const x = want[n]!.data as Float32Array;
      const e = extrema(want[n]!);
      const R = Number(out[b.batchRange]!.data[0]);
      expect(R, n).toBe(Math.max(-e.min, e.max)); // first batch: the range is max |x|
      expect(Number.isFinite(Number(out[b.probe]!.data[0])), n).toBe(true);
      const w = Math.fround(R / bins);
      const idx = out[b.indices]!.data as Int16Array;
      expect(out[b.indices]!.type).toBe('int16');
      expect(idx.length).toBe(x.length);
      let offEdge = 0;
      for (let i = 0; i < x.length; i++) {
        const y = x[i]! / w;
        if (idx[i] === Math.floor(y)) continue;
        // float32 rounding of x − w/2 may move a value within 1e-4 bin of an edge across it.
        expect(Math.abs(y - Math.round(y)), `${n}[${i}] = ${x[i]}: index ${idx[i]}`).toBeLessThan(1e-4);
        expect(Math.abs(idx[i]! - Math.floor(y))).toBe(1);
        offEdge++;
      }
      expect(offEdge, n).toBeLessThanOrEqual(x.length * 1e-4);
    }
  });

  it('skips the min of a tensor the graph proves >= 0 (no min output), and still bins it exactly', async () => {
    const { model, names } = fmnist();
    const session = await observationSession(model, [], {}, [], names.map((name) => ({ name, bins: 2048 })));
    const feeds: Record<string, ort.Tensor> = { input: batch() };
    for (const n of names) feeds[binnedNames(n).range] = new ort.Tensor('float32', new Float32Array([0]), []);
    let out: Record<string, ort.Tensor>;
    try {
      expect(new Set(session.outputNames).size).toBe(session.outputNames.length);
      out = await session.run(feeds);
    } finally {
      await session.release();
    }
    const want = await values(model, names);
    const skipped = names.filter((n) => !(binnedNames(n).min in out));
    // The ReLU outputs, and the flattened average of one; not the model input or the Conv outputs of the shortcuts.
    expect(skipped.sort()).toEqual(names.filter((n) => provablyNonNegative(model.graph.value(n)!)).sort());
    expect(skipped.length).toBeGreaterThanOrEqual(10);
    expect(skipped.length).toBeLessThan(names.length);
    for (const n of names) {
      const e = extrema(want[n]!);
      const b = binnedNames(n);
      if (skipped.includes(n)) expect(e.min, n).toBeGreaterThanOrEqual(0);
      else expect(Number(out[b.min]!.data[0]) == e.min, `${n} min`).toBe(true);
      expect(Number(out[b.max]!.data[0]), `${n} max`).toBe(e.max);
      expect(Number(out[b.batchRange]!.data[0]), n).toBe(Math.max(-e.min, e.max));
    }
  });

  it('observes each tensor right after onnxruntime computes it, not at the end of the run', async () => {
    // onnxruntime's profile gives the order in which the kernels ran.
    const { model, names } = fmnist();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qdeploy-order-'));
    try {
      const session = await observationSession(model, [], { enableProfiling: true, profileFilePrefix: path.join(dir, 'p') }, names.slice(0, 2), names.slice(2).map((name) => ({ name, bins: 2048 })));
      const range = Object.fromEntries(names.slice(2).map((n) => [binnedNames(n).range, new ort.Tensor('float32', new Float32Array([0]), [])]));
      await session.run({ input: batch(), ...range });
      session.endProfiling();
      await session.release();
      const [file] = fs.readdirSync(dir);
      const kernels = (JSON.parse(fs.readFileSync(path.join(dir, file!), 'utf8')) as { cat?: string; name: string; ts: number }[])
        .filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'))
        .sort((a, b) => a.ts - b.ts)
        .map((e) => e.name);
      const first = (prefix: string) => kernels.findIndex((k) => k.startsWith(prefix));
      const lastModelConv = kernels.findLastIndex((k) => k.startsWith('/l3/') && !k.includes('__qdeploy'));
      // The stem's output (extrema) and a first-stage activation (binned) are observed
      // before the last stage's convolutions run.
      for (const name of [names[1]!, '/l1/l1.0/c1/c1.2/Relu_output_0']) {
        const at = first(`${name}__qdeploy`);
        expect(at, name).toBeGreaterThanOrEqual(0);
        expect(at, name).toBeLessThan(lastModelConv);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('flags a NaN made inside the network in the probe', async () => {
    const g = new Graph();
    const x = g.getOrCreateValue('x');
    x.type = { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimValue: 1 }, { dimValue: 8 }, { dimValue: 1 }, { dimValue: 1 }] } } };
    g.inputs.push(x);
    const y = g.addNode({ opType: 'Log', inputs: [x], outputs: [g.getOrCreateValue('y')] }).output();
    g.outputs.push(g.addNode({ opType: 'Relu', inputs: [y], outputs: [g.getOrCreateValue('z')] }).output());
    const m = new Model(g, { irVersion: 8, opsetImport: [{ domain: '', version: 17 }] });
    expect(channelsOf(y)).toBe(8); // the per-channel (NCHWc-friendly) reductions are used
    const session = await observationSession(m, [], {}, [], [{ name: 'y', bins: 16 }]);
    try {
      const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from([1, 2, 3, -1, 4, 5, 6, 7]), [1, 8, 1, 1]), [binnedNames('y').range]: new ort.Tensor('float32', new Float32Array([0]), []) });
      expect(Number(out[binnedNames('y').probe]!.data[0])).toBeNaN();
    } finally {
      await session.release();
    }
  });
});

describe('in-graph observation on other architectures', () => {
  // Depthwise convs and ReLU6 (Clip); 3-D transformer activations; SiLU as x·sigmoid(x) and
  // squeeze-excite scales (EfficientNet-B0 generated at 64×64; the real 224×224 export:
  // calibrate-observe.exports.test.ts).
  const cases: [string, () => Model, number[]][] = [
    ['fmnist MobileNet', () => loadModel(vendored('fmnist_mobilenet.onnx')), [8, 1, 28, 28]],
    ['fmnist ViT', () => loadModel(vendored('fmnist_vit_small.onnx')), [8, 1, 28, 28]],
    ['EfficientNet-B0 (generated)', () => buildEfficientNetB0Like(), [2, 3, 64, 64]],
  ];
  for (const [label, model, shape] of cases) {
    it(`${label}: minmax ranges and entropy histograms as from the values`, () => checkObservedAsValues(model(), shape));
  }
});
