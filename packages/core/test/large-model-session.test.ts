import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { DataType, Tensor, createSession, loadModel } from '@qdeploy/core';
import { maxRelativeError, randomInput, writeWideMlp } from '@qdeploy/core/testing';

// The > 2 GB path of calibration's observation session, on a small model with the
// in-memory limit set to 0 (the real > 2 GB run is in `npm run bench`: it takes minutes).
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qdeploy-large-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('createSession for models past the protobuf limit', () => {
  it('reads the weights from the model\'s own external data file (no copy) and gives the in-memory session\'s outputs', async () => {
    const file = path.join(dir, 'mlp.onnx');
    const bytes = writeWideMlp(file, { width: 256, layers: 3 });
    expect(bytes).toBe(3 * (256 * 256 + 256) * 4);
    const m = loadModel(file);
    expect(m.graph.initializers().every((v) => v.initializer!.isExternal)).toBe(true);
    // An in-memory tensor too (as a folded BatchNorm would be): it goes to a side file.
    const w0 = m.graph.value('fc0.weight')!;
    w0.initializer = Tensor.fromArray(w0.initializer!.toFloat32Copy(), [256, 256], DataType.FLOAT);
    const x = { x: new ort.Tensor('float32', randomInput([4, 256], 2), [4, 256]) };
    const viaFile = await createSession(m, {}, 0);
    const inMemory = await createSession(m);
    const [a, b] = [await viaFile.run(x), await inMemory.run(x)];
    // Without weight prepacking the MatMul kernel sums in another order: float rounding only.
    expect(maxRelativeError(b.y!.data as Float32Array, a.y!.data as Float32Array)).toBeLessThan(1e-5);
    await viaFile.release();
    await inMemory.release();
    // The session file and its side data are gone; the model's data file is untouched.
    expect(fs.readdirSync(dir).sort()).toEqual(['mlp.onnx', 'mlp.onnx.data']);
  });
});
