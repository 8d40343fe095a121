// loadModel / saveModel in both forms: loadModelAsync / saveModelAsync and
// loadModelSync / saveModelSync.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, loadModelAsync, loadModelSync, modelToBytes, saveModel, saveModelAsync, saveModelSync } from '../src/index.js';
import { tmpDir, vendored } from './helpers/fixtures.js';

describe('model I/O in sync and async forms', () => {
  it('loadModelAsync gives the same model as loadModelSync, source path included', async () => {
    const file = vendored('fmnist_resnet.onnx');
    const a = await loadModelAsync(file);
    const s = loadModelSync(file);
    expect(a.sourcePath).toBe(path.resolve(file));
    expect(Buffer.from(modelToBytes(a)).equals(Buffer.from(modelToBytes(s)))).toBe(true);
    await expect(loadModelAsync(path.join(tmpDir(), 'missing.onnx'))).rejects.toThrow(/missing\.onnx: no such file/);
  });

  it('saveModelSync writes a model that loads back, and never over its source', () => {
    const dir = tmpDir();
    const model = loadModel(vendored('fmnist_resnet.onnx'));
    const out = path.join(dir, 'copy.onnx');
    saveModelSync(model, out);
    expect(Buffer.from(modelToBytes(loadModel(out))).equals(Buffer.from(modelToBytes(model)))).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['copy.onnx']); // no temporary file left
    const reloaded = loadModel(out);
    expect(() => saveModelSync(reloaded, out)).toThrow(/refusing to overwrite .*copy\.onnx/);
  });

  it('the explicit names are the existing functions', () => {
    expect(loadModelSync).toBe(loadModel);
    expect(saveModelAsync).toBe(saveModel);
  });
});
