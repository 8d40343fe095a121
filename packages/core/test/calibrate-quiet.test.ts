// A library call prints nothing unless asked: calibrate() and evaluateModel() show
// progress only when the caller asks, and a failed calibration prints no "done" line.
import * as path from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import calibrators from '@qdeploy/calibrators';
import { arraySource, calibrate, definePattern, input, insertQdq, loadModel, op, openNpy, toForwardLoop, transform, usePlugin, type ForwardLoop } from '../src/index.js';
import { vendored } from './helpers/fixtures.js';

const CONV = definePattern({ name: 'Conv', root: op(['Conv', 'Gemm'], [input('input')]), qdqPoints: ['input'] });
const images = openNpy(path.join(__dirname, 'fixtures/data/calib_64.npy')).readRows(0, 16) as Float32Array;
const loop = (): ForwardLoop => toForwardLoop(arraySource(images, { shape: [16, 1, 28, 28], batchSize: 8 }));
const quantized = () => {
  const { model, matches } = transform(loadModel(vendored('fmnist_resnet.onnx')), { patterns: [CONV] });
  return insertQdq(model, matches);
};

beforeAll(async () => {
  await usePlugin(calibrators);
});
afterEach(() => vi.restoreAllMocks());

describe('calibrate() prints only when asked', () => {
  it('writes nothing to stderr by default (a script whose stderr is not a terminal)', async () => {
    const writes: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (writes.push(String(chunk)), true));
    const r = await calibrate(quantized(), loop(), { calibrator: 'minmax' });
    expect(r.batches).toBe(2);
    expect(writes).toEqual([]);
  });

  it('shows progress when asked, and its summary line when the run completes', async () => {
    const lines: string[] = [];
    await calibrate(quantized(), loop(), { calibrator: 'minmax', progress: { mode: 'lines', stream: { write: (s: string) => lines.push(s) } } });
    expect(lines.join('')).toMatch(/calibrating \(minmax\): done, 2 batches, 16 samples/);
  });

  it('a failed calibration prints no "done, 0 batches"', async () => {
    const lines: string[] = [];
    const failing: ForwardLoop = async () => {
      throw new Error('the data loader broke');
    };
    await expect(
      calibrate(quantized(), failing, { calibrator: 'minmax', progress: { mode: 'lines', stream: { write: (s: string) => lines.push(s) } } }),
    ).rejects.toThrow(/the data loader broke/);
    expect(lines.join('')).not.toMatch(/done/);
  });
});
