import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageFolderSource, resizedSize } from '../src/calibrate/data/image-source.js';
import { CALIB_64, FMNIST_INPUT, IMAGES, collect, expectDataErrorAsync, makeTmp, manualFloat32 } from './fixtures/data/helpers.js';

let tmp: string;
beforeAll(() => {
  tmp = makeTmp('images');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

async function solid(file: string, width: number, height: number, rgb: [number, number, number], format: 'png' | 'jpeg' | 'webp' = 'png'): Promise<void> {
  const img = sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
  await (format === 'png' ? img.png() : format === 'jpeg' ? img.jpeg({ quality: 100 }) : img.webp({ lossless: true })).toFile(file);
}

describe('resize like torchvision', () => {
  it('scales the shorter side, truncating the longer one', () => {
    expect(resizedSize(500, 375, 256)).toEqual({ width: 341, height: 256 });
    expect(resizedSize(375, 500, 256)).toEqual({ width: 256, height: 341 });
    expect(resizedSize(300, 300, 224)).toEqual({ width: 224, height: 224 });
    expect(resizedSize(28, 40, 28)).toEqual({ width: 28, height: 40 });
  });
});

describe('imageFolderSource', () => {
  it('solid colour → resize → center crop → normalise gives exact NCHW values', async () => {
    const dir = path.join(tmp, 'solid');
    fs.mkdirSync(dir);
    await solid(path.join(dir, 'one.png'), 40, 30, [200, 100, 50]);
    await solid(path.join(dir, 'two.webp'), 30, 60, [200, 100, 50], 'webp');
    const source = await imageFolderSource(dir, { inputName: 'image', resize: 32, crop: 24, normalize: IMAGENET });
    expect(source.totalSamples).toBe(2);
    const [batch] = await collect(source);
    const t = batch!.inputs.image!;
    expect(t.type).toBe('float32');
    expect(t.dims).toEqual([2, 3, 24, 24]);
    const data = t.data as Float32Array;
    const plane = 24 * 24;
    [200, 100, 50].forEach((v, c) => {
      const expected = Math.fround((v / 255 - IMAGENET.mean[c]!) / IMAGENET.std[c]!);
      for (let n = 0; n < 2; n++) {
        const slice = data.subarray((n * 3 + c) * plane, (n * 3 + c + 1) * plane);
        for (const x of slice) expect(x).toBeCloseTo(expected, 6);
      }
    });
  });

  it('takes size and channels from the model input; grayscale uses PIL luma', async () => {
    const dir = path.join(tmp, 'gray');
    fs.mkdirSync(dir);
    await solid(path.join(dir, 'c.jpg'), 28, 28, [200, 100, 50], 'png'); // PNG bytes behind a .jpg name are fine for sharp
    const [batch] = await collect(await imageFolderSource(dir, { modelInputs: [FMNIST_INPUT] }));
    const t = batch!.inputs.input!;
    expect(t.dims).toEqual([1, 1, 28, 28]);
    const luma = (200 * 19595 + 100 * 38470 + 50 * 7471 + 0x8000) >> 16; // 124, as PIL convert('L')
    expect(luma).toBe(124);
    for (const x of t.data as Float32Array) expect(x).toBe(Math.fround(luma / 255));
  });

  it('center crop offsets follow torchvision', async () => {
    // 10×6 image: left half black, right half white; shorter side 6 = crop → no resize;
    // crop 6×6 starts at column round((10-6)/2) = 2, so columns 2..4 black, 5..7 white.
    const px = Buffer.alloc(10 * 6 * 3);
    for (let y = 0; y < 6; y++) for (let x = 5; x < 10; x++) px.fill(255, (y * 10 + x) * 3, (y * 10 + x) * 3 + 3);
    const dir = path.join(tmp, 'halves');
    fs.mkdirSync(dir);
    await sharp(px, { raw: { width: 10, height: 6, channels: 3 } }).png().toFile(path.join(dir, 'h.png'));
    const [batch] = await collect(await imageFolderSource(dir, { inputName: 'x', crop: 6, channels: 3 }));
    const data = batch!.inputs.x!.data as Float32Array;
    expect(Array.from(data.subarray(0, 6))).toEqual([0, 0, 0, 1, 1, 1]);
    expect(Array.from(data.subarray(2 * 36 + 30, 2 * 36 + 36))).toEqual([0, 0, 0, 1, 1, 1]);
  });

  it('the vendored Fashion-MNIST PNGs reproduce the .npy values (recursive, sorted)', async () => {
    const source = await imageFolderSource(IMAGES, { modelInputs: [FMNIST_INPUT], normalize: { mean: 0.286, std: 0.353 }, batchSize: 4 });
    expect(source.totalSamples).toBe(6);
    expect(source.totalBatches).toBe(2);
    const batches = await collect(source);
    expect(batches.map((b) => b.samples)).toEqual([4, 2]);
    const ref = manualFloat32(CALIB_64);
    let maxErr = 0;
    let o = 0;
    for (const b of batches) {
      const d = b.inputs.input!.data as Float32Array;
      for (let i = 0; i < d.length; i++) maxErr = Math.max(maxErr, Math.abs(d[i]! - ref[o + i]!));
      o += d.length;
    }
    expect(maxErr).toBeLessThan(0.5 / 255 / 0.353 + 1e-4); // 8-bit quantisation of the PNGs
  });

  it('batchSize, limit and concurrency', async () => {
    const source = await imageFolderSource(IMAGES, { modelInputs: [FMNIST_INPUT], batchSize: 2, limit: 5, concurrency: 3 });
    expect(source.totalSamples).toBe(5);
    const batches = await collect(source);
    expect(batches.map((b) => [b.index, b.samples])).toEqual([
      [0, 2],
      [1, 2],
      [2, 1],
    ]);
  });

  it('grayscale images expand to 3 channels; hidden files are skipped', async () => {
    const dir = path.join(tmp, 'expand');
    fs.mkdirSync(dir);
    await sharp(Buffer.alloc(16, 51), { raw: { width: 4, height: 4, channels: 1 } }).png().toFile(path.join(dir, 'g.png'));
    fs.writeFileSync(path.join(dir, '._g.png'), 'macOS resource fork, not an image');
    const [batch] = await collect(await imageFolderSource(dir, { inputName: 'x', crop: [4, 4], channels: 3 }));
    expect(batch!.inputs.x!.dims).toEqual([1, 3, 4, 4]);
    for (const v of batch!.inputs.x!.data as Float32Array) expect(v).toBe(Math.fround(51 / 255));
  });

  it('errors: empty folder, undecodable image, crop too large, unknown size', async () => {
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    fs.writeFileSync(path.join(empty, 'readme.txt'), 'no images here');
    await expectDataErrorAsync(imageFolderSource(empty, { modelInputs: [FMNIST_INPUT] }), 'empty', new RegExp(`no calibration samples in ${empty}`));

    const broken = path.join(tmp, 'broken');
    fs.mkdirSync(broken);
    fs.writeFileSync(path.join(broken, 'bad.png'), 'this is not a png');
    const source = await imageFolderSource(broken, { modelInputs: [FMNIST_INPUT] });
    await expectDataErrorAsync(collect(source), 'image', /bad\.png: cannot decode image/);

    const small = path.join(tmp, 'small');
    fs.mkdirSync(small);
    await solid(path.join(small, 's.png'), 20, 20, [1, 2, 3]);
    await expectDataErrorAsync(
      collect(await imageFolderSource(small, { inputName: 'x', resize: 16, crop: 24 })),
      'image',
      /s\.png: the 24×24 crop is larger than the image resized to 16×16/,
    );
    await expectDataErrorAsync(
      imageFolderSource(small, { modelInputs: [{ name: 'x', dims: ['n', 3, 'h', 'w'], type: 'float32' }] }),
      'invalid-option',
      /image size is unknown.*set crop/,
    );
    await expectDataErrorAsync(imageFolderSource(small, { modelInputs: [FMNIST_INPUT], channels: 3 }), 'invalid-option', /channels 3 but the model input has 1 channels/);
  });
});
