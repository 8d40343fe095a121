// .npz calibration data (ModelOpt's format): arrays keyed by model input name, so the CLI
// calibrates multi-input models. The fixtures were written by numpy 2.4:
//   x = rng.standard_normal((20, 4)).astype(f32); m = rng.uniform(0.5, 2, (20, 4)).astype(f32)
//   np.savez('two_inputs.npz', x=x, m=m); np.savez_compressed('two_inputs_compressed.npz', x=x.astype(f64), m=m)
//   np.savez('fmnist_8.npz', np.load('calib_64.npy')[:8]); np.save('two_inputs_{x,m}.npy', ...)
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataType, Graph, Model, Tensor, isDataError, openCalibrationData, openNpy, readNpz, saveModel } from '../src/index.js';
import { makeTmp, requireBuilt, runCli } from './fixtures/cli/helpers.js';

const DATA = path.join(__dirname, 'fixtures/data');
const npy = (name: string) => openNpy(path.join(DATA, name)).readRows(0, 20) as Float32Array;

let tmp: string;
let twoInputModel: string;
beforeAll(async () => {
  requireBuilt();
  tmp = makeTmp('npz');
  // y = Gemm(x · m, w): two model inputs, one Gemm whose input a backend quantizes.
  const g = new Graph();
  const input = (name: string) => {
    const v = g.getOrCreateValue(name);
    v.type = { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 4 }] } } };
    g.inputs.push(v);
    return v;
  };
  const prod = g.addNode({ opType: 'Mul', name: 'mul', inputs: [input('x'), input('m')], outputs: [g.getOrCreateValue('xm')] }).output();
  const w = g.addInitializer('w', Tensor.fromArray(Float32Array.from({ length: 4 * 300 }, (_, i) => Math.sin(i)), [4, 300]));
  g.outputs.push(g.addNode({ opType: 'Gemm', name: 'gemm', inputs: [prod, w], outputs: [g.getOrCreateValue('y')] }).output());
  twoInputModel = path.join(tmp, 'two_inputs.onnx');
  await saveModel(new Model(g, { irVersion: 8, opsetImport: [{ domain: '', version: 17 }] }), twoInputModel);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('readNpz', () => {
  it('reads np.savez (stored) and np.savez_compressed (deflated) archives, float64 as float32', async () => {
    for (const file of ['two_inputs.npz', 'two_inputs_compressed.npz']) {
      const arrays = await readNpz(path.join(DATA, file));
      expect(Object.keys(arrays).sort()).toEqual(['m', 'x']);
      expect(arrays.x!.shape).toEqual([20, 4]);
      expect(Array.from(arrays.x!.data as Float32Array)).toEqual(Array.from(npy('two_inputs_x.npy')));
      expect(Array.from(arrays.m!.data as Float32Array)).toEqual(Array.from(npy('two_inputs_m.npy')));
    }
  });

  it('a file that is not a zip is a DataError naming it', async () => {
    const err = await readNpz(path.join(DATA, 'calib_64.npy')).catch((e: unknown) => e);
    expect(isDataError(err)).toBe(true);
    expect((err as Error).message).toMatch(/calib_64\.npy: not a readable \.npz archive/);
  });
});

describe('.npz as calibration data', () => {
  it('feeds each array to the model input of its name', async () => {
    const modelInputs = [
      { name: 'x', dims: ['batch', 4], type: 'float32' },
      { name: 'm', dims: ['batch', 4], type: 'float32' },
    ] as never;
    const src = await openCalibrationData(path.join(DATA, 'two_inputs.npz'), { modelInputs, batchSize: 8 });
    const batches = [];
    for await (const b of src) batches.push(b);
    expect(batches.map((b) => b.samples)).toEqual([8, 8, 4]);
    expect(Object.keys(batches[0]!.inputs).sort()).toEqual(['m', 'x']);
  });

  it('names the model inputs it has no array for', async () => {
    const modelInputs = [{ name: 'x', dims: ['batch', 4], type: 'float32' }, { name: 'mask', dims: ['batch', 4], type: 'float32' }] as never;
    await expect(openCalibrationData(path.join(DATA, 'two_inputs.npz'), { modelInputs })).rejects.toThrow(/no array for model input 'mask' \(arrays: 'x', 'm'\)/);
  });

  it('the CLI calibrates a two-input model from an .npz keyed by input name', async () => {
    const out = path.join(tmp, 'two.int8.onnx');
    const r = await runCli(['quantize', twoInputModel, '-o', out, '--calibration-data', path.join(DATA, 'two_inputs_compressed.npz'), '--calibration-method', 'minmax', '--backend-option', 'minLinearSize=0', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.calibration.samples).toBe(20);
    expect(s.quantizers.QuantStub).toBeGreaterThan(0);
  });

  it('an archive of one unnamed array (np.savez(path, x)) feeds a single-input model', async () => {
    const r = await runCli(['quantize', path.join(__dirname, '../../../fixtures/fmnist_resnet_bn.onnx'), '-o', path.join(tmp, 'one.onnx'), '--calibration-data', path.join(DATA, 'fmnist_8.npz'), '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).calibration.samples).toBe(8);
  });
});
