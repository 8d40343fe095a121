import * as ort from 'onnxruntime-node';
import { Graph } from '../../ir/graph.js';
import { Model } from '../../ir/model.js';
import { DataType } from '../../ir/dtype.js';
import { modelToBytes } from '../../onnx/save.js';
import { lowerConvsToNchwc } from './lower-convs.js';
import { addTypedInput } from '../ops.js';

/** Block sizes onnxruntime's MLAS uses for NCHWc: 16 with AVX-512, 8 with AVX2. */
const CANDIDATES = [16, 8];

let probed: Promise<number | null> | null = null;

/**
 * The channel block size of this machine's onnxruntime NCHWc kernels, or null where it has
 * none (no AVX2, ARM). MLAS picks it from the CPU and onnxruntime does not report it, so
 * it is found by running one small conv lowered for each candidate against the plain Conv:
 * the weight layout only gives the plain result at the right block size. Once per process.
 */
export function nchwcBlockSize(): Promise<number | null> {
  probed ??= probe();
  return probed;
}

async function probe(): Promise<number | null> {
  const channels = 32; // a multiple of every candidate
  const x = new ort.Tensor('float32', Float32Array.from({ length: channels * 25 }, (_, i) => Math.sin(i * 0.7)), [1, channels, 5, 5]);
  const w = new ort.Tensor('float32', Float32Array.from({ length: channels * channels * 9 }, (_, i) => Math.cos(i * 0.3)), [channels, channels, 3, 3]);
  const expected = await runConv(convModel(channels), { x, w });
  if (!expected) return null;
  for (const b of CANDIDATES) {
    const m = convModel(channels);
    const shapes = new Map([['x', [...x.dims]], ['w', [...w.dims]]]);
    lowerConvsToNchwc(m, shapes, b);
    const got = await runConv(m, { x, w });
    if (got && got.every((v, i) => Math.abs(v - expected[i]!) <= 1e-3 * (1 + Math.abs(expected[i]!)))) return b;
  }
  return null;
}

function convModel(channels: number): Model {
  const g = new Graph();
  const x = addTypedInput(g, g.getOrCreateValue('x'), DataType.FLOAT, [1, channels, 5, 5]);
  const w = addTypedInput(g, g.getOrCreateValue('w'), DataType.FLOAT, [channels, channels, 3, 3]);
  const y = g.addNode({ opType: 'Conv', inputs: [x, w], attrs: { pads: [1, 1, 1, 1] }, name: 'conv' }).outputs[0]!;
  g.outputs.push(y);
  return new Model(g, { irVersion: 8, opsetImport: [{ domain: '', version: 17 }] });
}

async function runConv(model: Model, feeds: Record<string, ort.Tensor>): Promise<Float32Array | null> {
  let session: ort.InferenceSession | null = null;
  try {
    session = await ort.InferenceSession.create(modelToBytes(model), { logSeverityLevel: 3, intraOpNumThreads: 1 });
    const out = await session.run(feeds);
    return out[session.outputNames[0]!]!.data as Float32Array;
  } catch {
    return null; // no such kernels here (or not this layout)
  } finally {
    await session?.release();
  }
}
