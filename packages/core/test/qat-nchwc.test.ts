// The QAT step's convs on onnxruntime's blocked NCHWc kernels (qat/nchwc): the block size
// probe, the rewrite against the plain Conv, and a whole training step against the
// standard-ONNX graph with fake quant off (float arithmetic: only summation order differs).
import * as ort from 'onnxruntime-node';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DataType, Graph, Model, Tensor, type Value, buildGradientGraph, staticShapes, calibrate, disableFakeQuant, insertQdq, loadModel, modelToBytes, openNpy, prepareQat, transform, usePlugin,
} from '../src/index.js';
import { keepBlocked, lowerConvsToNchwc, nchwcBlockSize, NCHWC_DOMAIN } from '../src/qat/nchwc/index.js';
import { addTypedInput } from '../src/qat/ops.js';
import calibrators from '@qdeploy/calibrators';
import { TENSORRT_PATTERNS } from '@qdeploy/backend-tensorrt';
import { randomFloats, maxRelativeError } from '../src/testing/index.js';
import { repoRoot, vendored } from './helpers/fixtures.js';

const ONE_THREAD = { intraOpNumThreads: 1 };

beforeAll(async () => {
  await usePlugin(calibrators);
});

describe('NCHWc block size', () => {
  it('is found on x64 (AVX2: 8, AVX-512: 16) and is null or a candidate elsewhere', async () => {
    const b = await nchwcBlockSize();
    if (process.arch === 'x64') expect([8, 16]).toContain(b);
    else expect([null, 8, 16]).toContain(b);
  });
});

/** A graph under construction with its static shapes and random feeds for its inputs. */
function graphBuilder() {
  const g = new Graph();
  const shapes = new Map<string, number[]>();
  const feeds: Record<string, ort.Tensor> = {};
  const input = (name: string, dims: number[], seed: number, scale = 1) => {
    const v = addTypedInput(g, g.getOrCreateValue(name), DataType.FLOAT, dims);
    shapes.set(name, dims);
    feeds[name] = new ort.Tensor('float32', randomFloats(dims.reduce((a, d) => a * d, 1), seed).map((r) => scale * r), dims);
    return v;
  };
  const node = (opType: string, inputs: (Value | null)[], dims: number[] | null, attrs: Record<string, unknown> = {}) => {
    const v = g.addNode({ opType, inputs, attrs: attrs as never }).outputs[0]!;
    if (dims) shapes.set(v.name, dims);
    return v;
  };
  const model = () => new Model(g, { irVersion: 8, opsetImport: [{ domain: '', version: 19 }] });
  return { g, shapes, feeds, input, node, model };
}

/** x → convs of every kind the rewrite handles (weights as graph inputs) plus one it must leave. */
function convChain(c: number): { model: Model; feeds: Record<string, ort.Tensor>; shapes: Map<string, number[]> } {
  const { g, shapes, feeds, input, model } = graphBuilder();
  const x = input('x', [2, c, 9, 9], 1);
  const convs: [string, number[], Record<string, unknown>, number[], boolean][] = [
    ['dense3x3', [c, c, 3, 3], { pads: [1, 1, 1, 1] }, [2, c, 9, 9], false],
    ['dense1x1s2bias', [2 * c, c, 1, 1], { strides: [2, 2] }, [2, 2 * c, 5, 5], true],
    ['depthwise_s2', [2 * c, 1, 3, 3], { pads: [1, 1, 1, 1], strides: [2, 2], group: 2 * c }, [2, 2 * c, 3, 3], false],
    ['depthwise_dilated', [2 * c, 1, 3, 3], { pads: [2, 2, 2, 2], dilations: [2, 2], group: 2 * c }, [2, 2 * c, 3, 3], false],
    ['odd_channels', [3, 2 * c, 3, 3], { pads: [1, 1, 1, 1] }, [2, 3, 3, 3], false],
  ];
  let prev = x;
  // First a dense conv whose kernel is reversed in space, as autodiff flips a dX conv's kernel.
  const flipped = g.addNode({ opType: 'Slice', name: 'flip', inputs: [input('flipped.w', [c, c, 3, 3], 9), ...[[-1, -1], [-4, -4], [2, 3], [-1, -1]].map((v, i) => g.addInitializer(`flip_${i}`, Tensor.fromArray(BigInt64Array.from(v.map(BigInt)), [2])))] }).outputs[0]!;
  shapes.set(flipped.name, [c, c, 3, 3]);
  prev = g.addNode({ opType: 'Conv', inputs: [prev, flipped], attrs: { pads: [1, 1, 1, 1] }, name: 'dense3x3_flipped' }).outputs[0]!;
  shapes.set(prev.name, [2, c, 9, 9]);
  convs.forEach(([name, ws, attrs, ys, bias], i) => {
    const w = input(`${name}.w`, ws, 10 + i);
    const inputs = bias ? [prev, w, input(`${name}.b`, [ws[0]!], 20 + i)] : [prev, w];
    prev = g.addNode({ opType: 'Conv', inputs, attrs: attrs as never, name }).outputs[0]!;
    shapes.set(prev.name, ys);
  });
  g.outputs.push(prev);
  return { model: model(), feeds, shapes };
}

async function run(model: Model, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(modelToBytes(model), ONE_THREAD);
  const out = await s.run(feeds);
  await s.release();
  return out[s.outputNames[0]!]!.data as Float32Array;
}

describe('lowerConvsToNchwc', () => {
  it('rewrites dense and depthwise convs with run-time weights, leaves the others, and computes the same', async () => {
    const b = (await nchwcBlockSize()) ?? 8;
    const { model, feeds, shapes } = convChain(b);
    const plain = await run(model, feeds);
    const lowered = model.clone();
    expect(lowerConvsToNchwc(lowered, shapes, b)).toBe(5);
    const kinds = lowered.graph.nodes.map((n) => `${n.domain === NCHWC_DOMAIN ? 'nchwc.' : ''}${n.opType}`);
    expect(kinds.filter((k) => k === 'nchwc.Conv')).toHaveLength(5);
    expect(kinds).not.toContain('Slice'); // the flip became a reversal of whole blocks in the reorder
    expect(kinds).toContain('Gather');
    expect(kinds.filter((k) => k === 'Conv')).toHaveLength(1); // 3 output channels: not a multiple of the block
    expect(lowered.opset(NCHWC_DOMAIN)).toBe(1);
    if ((await nchwcBlockSize()) === null) return; // the rewrite is checked above; no kernels to run it here
    expect(maxRelativeError(await run(lowered, feeds), plain)).toBeLessThan(1e-5);
  });
});

/**
 * conv → Clip → per-tensor fake quant → depthwise conv → STE-like mask → 1×1 conv, read by
 * what a training step reads activations with: an NHWC Transpose (dense dW), a sum over all
 * axes (a learned scale's gradient), a batch-folded depthwise dW conv, and plain readers
 * (graph outputs, one of them boolean).
 */
function blockedChain(c: number): { model: Model; feeds: Record<string, ort.Tensor>; shapes: Map<string, number[]> } {
  const { g, shapes, feeds, input: graphInput, node, model } = graphBuilder();
  const input = (name: string, dims: number[], seed: number) => graphInput(name, dims, seed, 2);
  const act = [2, c, 6, 6];
  const scalar = (name: string, v: number, type: 'f' | 'i8' = 'f') => g.addInitializer(name, type === 'f' ? Tensor.fromArray(new Float32Array([v]), []) : Tensor.fromArray(new Int8Array([v]), [], DataType.INT8));
  const shape = (name: string, dims: number[]) => g.addInitializer(name, Tensor.fromArray(BigInt64Array.from(dims.map(BigInt)), [dims.length]));
  const y1 = node('Conv', [input('x', act, 1), input('w1', [c, c, 3, 3], 2)], act, { pads: [1, 1, 1, 1] });
  const a1 = node('Clip', [y1, scalar('lo', 0), scalar('hi', 6)], act);
  const [s, z] = [scalar('s', 0.05), scalar('z', 0, 'i8')];
  const d = node('DequantizeLinear', [node('QuantizeLinear', [a1, s, z], act), s, z], act);
  const y2 = node('Conv', [d, input('w2', [c, 1, 3, 3], 3)], act, { pads: [1, 1, 1, 1], group: c });
  const inside = node('Equal', [y2, node('Clip', [y2, scalar('lo1', -1), scalar('hi1', 1)], act)], act);
  const masked = node('Mul', [y2, node('Cast', [inside], act, { to: DataType.FLOAT })], act);
  const y3 = node('Conv', [masked, input('w3', [2 * c, c, 1, 1], 4)], [2, 2 * c, 6, 6]);
  const nhwc = node('Transpose', [y3], [2, 6, 6, 2 * c], { perm: [0, 2, 3, 1] });
  const total = node('ReduceSum', [masked], [], { keepdims: 0 });
  const image = node('Reshape', [y1, shape('image', [1, 2 * c, 6, 6])], [1, 2 * c, 6, 6]);
  const kernels = node('Reshape', [masked, shape('kernels', [2 * c, 1, 6, 6])], [2 * c, 1, 6, 6]);
  const dw = node('Conv', [image, kernels], [1, 2 * c, 3, 3], { pads: [1, 1, 1, 1], group: 2 * c, kernel_shape: [6, 6] });
  g.outputs.push(nhwc, total, dw, a1, inside);
  return { model: model(), feeds, shapes };
}

async function runAll(model: Model, feeds: Record<string, ort.Tensor>): Promise<Float64Array[]> {
  const s = await ort.InferenceSession.create(modelToBytes(model), ONE_THREAD);
  const out = await s.run(feeds);
  await s.release();
  return s.outputNames.map((n) => Float64Array.from(out[n]!.data as ArrayLike<number>, Number));
}

describe('convs whose channels are no multiple of the block', () => {
  it('run on zero-padded channels (dense with bias, flipped, depthwise), blocked in between, and compute the same', async () => {
    const found = await nchwcBlockSize();
    const b = found ?? 8; // without blocked kernels here, the rewrite is still checked
    const c = b + b / 2; // 24 at block 16: MobileNet's narrow layers
    const { g, shapes, feeds, input, node, model: build } = graphBuilder();
    const [act, wide] = [[2, c, 7, 7], [2, 2 * b, 7, 7]];
    const flipSteps = [[-1, -1], [-4, -4], [2, 3], [-1, -1]].map((v, i) => g.addInitializer(`flip_${i}`, Tensor.fromArray(BigInt64Array.from(v.map(BigInt)), [2])));
    const flipped = node('Slice', [input('w0', [2 * b, c, 3, 3], 2), ...flipSteps], [2 * b, c, 3, 3]);
    const y0 = node('Conv', [input('x', act, 1), flipped, input('b0', [2 * b], 3)], wide, { pads: [1, 1, 1, 1] });
    const a0 = node('Relu', [y0], wide);
    const y1 = node('Conv', [a0, input('w1', [c, 2 * b, 1, 1], 4), input('b1', [c], 5)], act);
    const y2 = node('Conv', [y1, input('w2', [c, 1, 3, 3], 6)], act, { pads: [1, 1, 1, 1], group: c });
    const y3 = node('Conv', [node('Sigmoid', [y2], act), input('w3', [2 * b, c, 1, 1], 7)], wide);
    g.outputs.push(y3, a0);
    const model = build();
    const lowered = model.clone();
    expect(lowerConvsToNchwc(lowered, shapes, b)).toBe(4); // each adds a third to its work
    expect(lowered.graph.nodes.filter((n) => n.opType === 'Pad')).toHaveLength(5); // w0 (in), w1 and b1 (out), w2, w3 (in)
    const blocked = lowered.clone();
    keepBlocked(blocked, shapes, b);
    // Between the convs everything stays blocked: one reorder in (x), one out per graph output.
    expect(blocked.graph.nodes.filter((n) => n.opType.startsWith('Reorder')).map((n) => n.opType).sort()).toEqual(['ReorderInput', 'ReorderOutput', 'ReorderOutput']);
    if (found === null) return; // nothing here runs com.microsoft.nchwc ops; the graph checks above still ran
    const want = await runAll(model, feeds);
    for (const m of [lowered, blocked]) (await runAll(m, feeds)).forEach((got, i) => expect(maxRelativeError(got, want[i]!), `output ${i}`).toBeLessThan(1e-5));
  });
});

describe('keepBlocked', () => {
  it('keeps the values between lowered convs blocked, reorders only for plain readers, and computes the same', async () => {
    const found = await nchwcBlockSize();
    const b = found ?? 8; // without blocked kernels here, the rewrite is still checked
    const { model, feeds, shapes } = blockedChain(b);
    const lowered = model.clone();
    expect(lowerConvsToNchwc(lowered, shapes, b)).toBe(4);
    const blocked = lowered.clone();
    const reorders = (m: Model) => m.graph.nodes.filter((n) => n.opType.startsWith('Reorder')).map((n) => n.opType).sort();
    expect(reorders(lowered)).toHaveLength(8);
    expect(keepBlocked(blocked, shapes, b)).toBeGreaterThan(0);
    // In: x and the last conv's input (not a conv output, but the masked y2 was made blocked) are gone
    // but for x; out: y3 (the Transpose reads it blocked), a1 and the boolean mask (graph outputs), the dW conv's output.
    expect(reorders(blocked)).toEqual(['ReorderInput', 'ReorderOutput', 'ReorderOutput', 'ReorderOutput']);
    if (found === null) return; // nothing here runs com.microsoft.nchwc ops; the graph checks above still ran
    const [want, got] = [await runAll(lowered, feeds), await runAll(blocked, feeds)];
    expect(got).toHaveLength(5);
    got.forEach((g, i) => expect(maxRelativeError(g, want[i]!), `output ${i}`).toBeLessThan(1e-6));
  });
});

describe('depthwise weight gradient on blocked kernels (GradientOptions.blockedConvs)', () => {
  // One depthwise conv, loss = Σ Y·R: dW as one grouped Conv (lowered to NCHWc) against the shifted slices / im2col.
  const cases: [string, number, Record<string, number[]>][] = [
    ['stride 1, padded', 9, { pads: [1, 1, 1, 1] }],
    ['stride 2, exact fit', 9, { pads: [1, 1, 1, 1], strides: [2, 2] }],
    ['stride 2 with slack (the extra outputs cut)', 10, { pads: [1, 1, 1, 1], strides: [2, 2] }],
    ['dilated', 9, { pads: [2, 2, 2, 2], dilations: [2, 2] }],
    ['asymmetric pads, unpadded end', 8, { pads: [1, 0, 0, 1] }],
  ];
  for (const [label, size, attrs] of cases) {
    it(label, async () => {
      const b = (await nchwcBlockSize()) ?? 8;
      const [n, c] = [2, b];
      const dw = async (blocked: boolean) => {
        const g = new Graph();
        const x = addTypedInput(g, g.getOrCreateValue('x'), DataType.FLOAT, [n, c, size, size]);
        const w = addTypedInput(g, g.getOrCreateValue('w'), DataType.FLOAT, [c, 1, 3, 3]);
        const y = g.addNode({ opType: 'Conv', inputs: [x, w], attrs: { ...attrs, group: c, kernel_shape: [3, 3] } as never, name: 'dwconv' }).outputs[0]!;
        const model = new Model(g, { irVersion: 8, opsetImport: [{ domain: '', version: 17 }] });
        const ys = (await staticShapes(model, { x: new ort.Tensor('float32', new Float32Array(n * c * size * size), [n, c, size, size]), w: new ort.Tensor('float32', new Float32Array(c * 9), [c, 1, 3, 3]) })).get(y.name)!;
        const r = addTypedInput(g, g.getOrCreateValue('r'), DataType.FLOAT, [...ys]);
        const loss = g.addNode({ opType: 'ReduceSum', inputs: [g.addNode({ opType: 'Mul', inputs: [y, r] }).outputs[0]!], attrs: { keepdims: 0 } }).outputs[0]!;
        g.outputs.push(loss);
        const shapes = new Map<string, readonly number[]>([['x', [n, c, size, size]], ['w', [c, 1, 3, 3]], ['r', ys], [y.name, ys], [loss.name, []], [g.nodes[1]!.outputs[0]!.name, ys]]);
        const { gradients, shapes: all } = buildGradientGraph(g, { loss: loss.name, wrt: ['w'], shapes, ...(blocked ? { blockedConvs: b } : {}) });
        const convs = g.nodes.filter((k) => k.opType === 'Conv' && k.attr('group', 1) === n * c).length;
        if (blocked) lowerConvsToNchwc(model, all, b);
        g.outputs.splice(0, g.outputs.length, g.value(gradients.get('w')!)!);
        const feeds = {
          x: new ort.Tensor('float32', randomFloats(n * c * size * size, 1), [n, c, size, size]),
          w: new ort.Tensor('float32', randomFloats(c * 9, 2), [c, 1, 3, 3]),
          r: new ort.Tensor('float32', randomFloats(ys.reduce((a, d) => a * d, 1), 3), [...ys]),
        };
        return { grad: await run(model, feeds), convs };
      };
      const [plain, blocked] = [await dw(false), await dw(true)];
      expect([plain.convs, blocked.convs]).toEqual([0, 1]); // the batch-folded grouped conv, only when blocked
      expect(maxRelativeError(blocked.grad, plain.grad)).toBeLessThan(1e-5);
    });
  }
});

describe('prepareQat with NCHWc convs', () => {
  it('a training step gives the loss and gradients of the standard graph (fake quant off: float arithmetic)', async () => {
    const xs = openNpy(path.join(repoRoot(), 'examples/fashion-mnist/data/test_500_x.npy'));
    const B = 8;
    const x = new ort.Tensor('float32', xs.readRows(0, B) as Float32Array, [B, 1, 28, 28]);
    const labels = Int32Array.from({ length: B }, (_, i) => i % 10);
    const { model, matches } = transform(loadModel(vendored('fmnist_mobilenet.onnx')), { patterns: TENSORRT_PATTERNS });
    const q = insertQdq(model, matches);
    await calibrate(q, async (r) => r(x), { calibrator: 'minmax', progress: false });
    // SGD at lr 1, no momentum or decay: w' = w − g, so the trained weights carry the gradients.
    const trained: Map<string, Float32Array>[] = [];
    const losses: number[] = [];
    for (const nchwc of [false, true]) {
      const qat = await prepareQat(q, { batchSize: B, nchwc, sessionOptions: ONE_THREAD, optimizer: { type: 'sgd', lr: 1, momentum: 0 } });
      disableFakeQuant(qat);
      losses.push(await qat.step(x, labels));
      trained.push(qat.toCheckpoint(0).params);
    }
    expect(Math.abs(losses[1]! - losses[0]!)).toBeLessThan(1e-5 * Math.abs(losses[0]!));
    const initial = (name: string) => q.model.graph.value(name)!.initializer!.toFloat32();
    const names = [...trained[0]!.keys()];
    expect(names.length).toBeGreaterThan(20);
    for (const n of names) {
      const g = (w: Float32Array) => w.map((v, i) => initial(n)[i]! - v);
      expect(maxRelativeError(g(trained[0]!.get(n)!), g(trained[1]!.get(n)!)), n).toBeLessThan(1e-4);
    }
  });
});
