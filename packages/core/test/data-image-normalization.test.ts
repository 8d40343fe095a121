// Image folders: normalisation presets, NHWC layout, the CLI's --normalize/--mean/--std/
// --resize/--crop/--layout flags, the report stating the normalisation, and the warning
// when an image model is calibrated with none.
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageFolderSource } from '../src/calibrate/data/image-source.js';
import { NORMALIZATION_PRESETS, describeNormalization, resolveNormalization } from '../src/calibrate/data/normalize.js';
import { FMNIST_INPUT, IMAGES, collect, makeTmp } from './fixtures/data/helpers.js';
import { RESNET_BN, requireBuilt, runCli } from './fixtures/cli/helpers.js';

let tmp: string;
beforeAll(() => {
  requireBuilt();
  tmp = makeTmp('image-norm');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('normalisation presets', () => {
  it('imagenet is torchvision\'s; own values beside a preset override it; an unknown preset lists them', () => {
    const n = resolveNormalization({ preset: 'imagenet' }, 3, 'x');
    expect(n.scale).toBeCloseTo(1 / 255, 12);
    expect(Array.from(n.mean)).toEqual([0.485, 0.456, 0.406]);
    expect(Array.from(n.std)).toEqual([0.229, 0.224, 0.225]);
    expect(Array.from(resolveNormalization({ preset: 'imagenet', mean: 0 }, 3, 'x').mean)).toEqual([0, 0, 0]);
    expect(() => resolveNormalization({ preset: 'imagnet' as 'imagenet' }, 3, 'x')).toThrow(/unknown normalisation preset "imagnet" \(presets: imagenet, inception, clip, unit, raw\)/);
    expect(Object.keys(NORMALIZATION_PRESETS)).toEqual(['imagenet', 'inception', 'clip', 'unit', 'raw']);
    expect(describeNormalization({ preset: 'imagenet' })).toBe('imagenet: x·1/255, mean [0.485, 0.456, 0.406], std [0.229, 0.224, 0.225]');
  });

  it('an RGB folder with the imagenet preset gives (x/255 − mean) / std, in NCHW and in NHWC', async () => {
    const dir = path.join(tmp, 'rgb');
    fs.mkdirSync(dir);
    await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 255, g: 0, b: 128 } } }).png().toFile(path.join(dir, 'a.png'));
    const expected = [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (128 / 255 - 0.406) / 0.225];
    const [nchw] = await collect(await imageFolderSource(dir, { inputName: 'x', crop: 8, normalize: { preset: 'imagenet' } }));
    const a = nchw!.inputs.x!;
    expect(a.dims).toEqual([1, 3, 8, 8]);
    for (let c = 0; c < 3; c++) expect((a.data as Float32Array)[c * 64]).toBeCloseTo(expected[c]!, 5);
    const nhwcModel = [{ name: 'x', dims: [1, 8, 8, 3], type: 'float32' }] as never;
    const src = await imageFolderSource(dir, { modelInputs: nhwcModel, normalize: { preset: 'imagenet' } });
    const [nhwc] = await collect(src);
    const b = nhwc!.inputs.x!;
    expect(b.dims).toEqual([1, 8, 8, 3]);
    for (let c = 0; c < 3; c++) expect((b.data as Float32Array)[c]).toBeCloseTo(expected[c]!, 5);
    expect(src.normalization).toBe('imagenet: x·1/255, mean [0.485, 0.456, 0.406], std [0.229, 0.224, 0.225]; resize 8, center crop 8×8, RGB, NHWC');
  });

  it('says when no normalisation was chosen (images only scaled to [0, 1])', async () => {
    expect((await imageFolderSource(IMAGES, { modelInputs: [FMNIST_INPUT] })).normalizationGiven).toBe(false);
    expect((await imageFolderSource(IMAGES, { modelInputs: [FMNIST_INPUT], normalize: { preset: 'unit' } })).normalizationGiven).toBe(true);
  });
});

describe('the CLI flags and the report', () => {
  const base = (out: string) => ['quantize', RESNET_BN, '-o', out, '--calibration-data', IMAGES, '--batch-size', '8', '--no-progress'];

  it('--mean/--std/--resize/--crop: the summary states the normalisation, and no warning', async () => {
    const r = await runCli([...base(path.join(tmp, 'a.onnx')), '--mean', '0.286', '--std', '0.353', '--resize', '28', '--crop', '28', '--layout', 'nchw']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/preprocess +x·1\/255, mean \[0\.286\], std \[0\.353\]; resize 28, center crop 28×28, grayscale, NCHW/);
    expect(r.stderr).not.toMatch(/warning/);
  });

  it('no normalisation: a warning that names --normalize, and the report says x/255 only', async () => {
    const r = await runCli([...base(path.join(tmp, 'b.onnx')), '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: .*only scaled to \[0, 1\], with no mean\/std.*--normalize imagenet/);
    expect(JSON.parse(r.stdout).calibration.normalization).toMatch(/^x·1\/255 only \(no mean\/std\)/);
  });

  it('--normalize unit says [0, 1] is right (no warning); a 3-channel preset on a grayscale model is bad input', async () => {
    const ok = await runCli([...base(path.join(tmp, 'c.onnx')), '--normalize', 'unit']);
    expect(ok.code).toBe(0);
    expect(ok.stderr).not.toMatch(/warning/);
    const bad = await runCli([...base(path.join(tmp, 'd.onnx')), '--normalize', 'imagenet']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/normalisation mean has 3 values but the data has 1 channels/);
  });
});
