import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from './helpers/fixtures.js';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeNpyHeader, openNpy, readNpyHeader, writeNpy } from '../src/calibrate/data/npy.js';
import { fp16ToNumber as halfToFloat } from '../src/ir/dtype.js';
import { npySource } from '../src/calibrate/data/npy-source.js';
import { expectDataError } from './fixtures/data/helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURE = path.join(here, 'fixtures/data/calib_64.npy');


let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qdeploy-npy-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

type ReadArgs = [fd: number, buffer: Uint8Array, offset: number, length: number, position: number];
/** The positional readSync(fd, buffer, offset, length, position) calls a spy saw. */
const readCalls = (spy: { mock: { calls: unknown[] } }): ReadArgs[] => spy.mock.calls as ReadArgs[];

/** Reads a v1 .npy's float32 payload by hand. */
function manualFloat32(file: string): { offset: number; data: Float32Array } {
  const buf = fs.readFileSync(file);
  const offset = 10 + buf.readUInt16LE(8);
  const bytes = buf.subarray(offset);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return { offset, data: new Float32Array(copy.buffer) };
}

describe('npy header', () => {
  it('parses the vendored calibration slice', () => {
    const h = readNpyHeader(FIXTURE);
    expect(h).toMatchObject({ version: '1.0', descr: '<f4', dtype: 'float32', arrayType: 'float32', itemSize: 4 });
    expect(h.shape).toEqual([64, 1, 28, 28]);
    expect(h.rows).toBe(64);
    expect(h.rowShape).toEqual([1, 28, 28]);
    expect(h.rowElements).toBe(784);
    expect(h.dataOffset).toBe(128);
    expect(h.dataBytes).toBe(64 * 784 * 4);
  });

  it('reads rows with exactly the values of a manual slice', () => {
    const { data } = manualFloat32(FIXTURE);
    const f = openNpy(FIXTURE);
    try {
      expect(f.readRows(0, 64)).toEqual(data);
      const rows = f.readRows(10, 3);
      expect(rows).toBeInstanceOf(Float32Array);
      expect(rows.length).toBe(3 * 784);
      expect(rows).toEqual(data.subarray(10 * 784, 13 * 784));
      expect(f.readRows(63, 1)).toEqual(data.subarray(63 * 784));
      expect(f.readRows(5, 0).length).toBe(0);
      expect(() => f.readRows(60, 5)).toThrow(RangeError);
    } finally {
      f.close();
    }
    f.close(); // idempotent
  });

  it('matches the first 64 samples of the example\'s calib_256.npy (both cut from the shared calib_512.npy)', () => {
    const f = openNpy(path.join(repoRoot(), 'examples/fashion-mnist/data/calib_256.npy'));
    const g = openNpy(FIXTURE);
    try {
      expect(f.shape).toEqual([256, 1, 28, 28]);
      expect(g.readRows(0, 64)).toEqual(f.readRows(0, 64));
    } finally {
      f.close();
      g.close();
    }
  });

  it('round-trips every writable dtype and converts float64 to float32', () => {
    const cases = [
      [new Float32Array([1.5, -2, 3.25, 4, 5, 6]), '<f4', 'float32'],
      [new Float64Array([0.1, -2, 1e-3, 4, 5, 6]), '<f8', 'float32'],
      [new Uint8Array([0, 1, 127, 128, 254, 255]), '|u1', 'uint8'],
      [new Int8Array([-128, -1, 0, 1, 2, 127]), '|i1', 'int8'],
      [new Int32Array([-5, 0, 7, 2 ** 31 - 1, -(2 ** 31), 3]), '<i4', 'int32'],
      [new BigInt64Array([-1n, 0n, 2n ** 40n, 3n, 4n, 5n]), '<i8', 'int64'],
    ] as const;
    for (const [arr, descr, arrayType] of cases) {
      const file = path.join(tmp, `rt-${descr.slice(1)}.npy`);
      writeNpy(file, arr, [3, 2]);
      const f = openNpy(file);
      expect(f.descr).toBe(descr);
      expect(f.arrayType).toBe(arrayType);
      expect(f.shape).toEqual([3, 2]);
      expect(f.dataOffset % 64).toBe(0);
      const rows = f.readRows(1, 2);
      if (arr instanceof Float64Array) expect(rows).toEqual(Float32Array.from(arr.subarray(2)));
      else expect(rows).toEqual(arr.subarray(2));
      f.close();
    }
  });

  it('reads float16 as float32', () => {
    const halves = new Uint16Array([0x3c00, 0xc000, 0x3555, 0x0001, 0x7c00, 0x7e00]); // 1, -2, ~0.333, 2^-24, inf, nan
    const file = path.join(tmp, 'half.npy');
    fs.writeFileSync(file, Buffer.concat([encodeNpyHeader('<f2', [6]), Buffer.from(halves.buffer)]));
    const f = openNpy(file);
    expect(f.dtype).toBe('float16');
    const v = f.readRows(0, 6) as Float32Array;
    f.close();
    expect(Array.from(v.subarray(0, 2))).toEqual([1, -2]);
    expect(v[2]).toBeCloseTo(0.33325, 4);
    expect(v[3]).toBe(Math.fround(2 ** -24));
    expect(v[4]).toBe(Infinity);
    expect(v[5]).toBeNaN();
    expect(halfToFloat(0x8000)).toBe(-0);
  });

  it('reads format 2.0 and 3.0 headers', () => {
    const data = new Float32Array([1, 2, 3, 4]);
    for (const major of [2, 3]) {
      const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }`;
      const total = Math.ceil((12 + dict.length + 1) / 64) * 64;
      const header = Buffer.alloc(total, 0x20);
      Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]).copy(header);
      header.writeUInt32LE(total - 12, 8);
      header.write(dict, 12, 'latin1');
      header[total - 1] = 0x0a;
      const file = path.join(tmp, `v${major}.npy`);
      fs.writeFileSync(file, Buffer.concat([header, Buffer.from(data.buffer)]));
      const f = openNpy(file);
      expect(f.version).toBe(`${major}.0`);
      expect(f.readRows(1, 1)).toEqual(new Float32Array([3, 4]));
      f.close();
    }
  });

  it('accepts 1-d arrays and the long-int suffix of old headers', () => {
    const file = path.join(tmp, 'oned.npy');
    writeNpy(file, new Int32Array([4, 5, 6]), [3]);
    expect(readNpyHeader(file)).toMatchObject({ shape: [3], rows: 3, rowShape: [], rowElements: 1 });
    expect(fs.readFileSync(file, 'latin1')).toContain("'shape': (3,)");
    const legacy = path.join(tmp, 'legacy.npy');
    fs.writeFileSync(legacy, Buffer.concat([encodeNpyHeader('<f4', [2]), Buffer.from(new Float32Array([1, 2]).buffer)]).toString('latin1').replace('(2,)', '(2L,)'), 'latin1');
    expect(readNpyHeader(legacy).shape).toEqual([2]);
  });
});

describe('npy errors name the file and the problem', () => {
  it('bad magic', () => {
    const file = path.join(tmp, 'bad-magic.npy');
    fs.writeFileSync(file, 'PK\x03\x04 this is a zip, not npy');
    const err = expectDataError(() => openNpy(file), 'npy-format', /bad-magic\.npy/, /not a \.npy file: bad magic/);
    expect(err.path).toBe(file);
  });

  it('truncated data: header says N bytes but the file has M', () => {
    const file = path.join(tmp, 'truncated.npy');
    const full = fs.readFileSync(FIXTURE);
    fs.writeFileSync(file, full.subarray(0, 128 + 1000));
    expectDataError(
      () => openNpy(file),
      'npy-truncated',
      /truncated\.npy/,
      /header says shape \(64, 1, 28, 28\) float32 = 200704 bytes but the file has 1000/,
    );
  });

  it('truncated header', () => {
    const file = path.join(tmp, 'short-header.npy');
    fs.writeFileSync(file, fs.readFileSync(FIXTURE).subarray(0, 40));
    expectDataError(() => readNpyHeader(file), 'npy-truncated', /short-header\.npy/, /truncated \.npy header/);
  });

  it('fortran order', () => {
    const file = path.join(tmp, 'fortran.npy');
    const header = encodeNpyHeader('<f4', [2, 3]).toString('latin1').replace("'fortran_order': False", "'fortran_order': True ");
    fs.writeFileSync(file, Buffer.concat([Buffer.from(header, 'latin1'), Buffer.alloc(24)]));
    expectDataError(() => openNpy(file), 'npy-format', /fortran\.npy/, /fortran_order \(column-major\) arrays are not supported/, /ascontiguousarray/);
  });

  it('big-endian', () => {
    const file = path.join(tmp, 'big.npy');
    fs.writeFileSync(file, Buffer.concat([encodeNpyHeader('>f4', [2]), Buffer.alloc(8)]));
    expectDataError(() => openNpy(file), 'npy-format', /big\.npy/, /big-endian data \('>f4'\) is not supported/, /astype\('<f4'\)/);
  });

  it('unsupported dtype', () => {
    const file = path.join(tmp, 'complex.npy');
    fs.writeFileSync(file, Buffer.concat([encodeNpyHeader('<c8', [2]), Buffer.alloc(16)]));
    expectDataError(() => openNpy(file), 'unsupported-dtype', /complex\.npy/, /unsupported dtype '<c8'/, /'<f4'/);
  });

  it('structured dtype and unreadable header', () => {
    const file = path.join(tmp, 'record.npy');
    const dict = "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }";
    const h = encodeNpyHeader('<f4', [1]).toString('latin1');
    fs.writeFileSync(file, h.slice(0, 10) + dict.padEnd(h.length - 11) + '\n' + '\0\0\0\0', 'latin1');
    expectDataError(() => openNpy(file), 'unsupported-dtype', /structured arrays/);
    const junk = path.join(tmp, 'junk.npy');
    fs.writeFileSync(junk, h.slice(0, 10) + 'garbage'.padEnd(h.length - 11) + '\n', 'latin1');
    expectDataError(() => openNpy(junk), 'npy-format', /junk\.npy/, /unreadable \.npy header/);
  });

  it('missing file', () => {
    expectDataError(() => openNpy(path.join(tmp, 'nope.npy')), 'not-found', /nope\.npy/, /ENOENT/);
  });
});

describe('streaming', () => {
  const ROWS = 12_800;
  const COLS = 1024; // 4 KiB per row, 50 MiB in all
  let big: string;

  beforeAll(() => {
    big = path.join(tmp, 'big.npy');
    const fd = fs.openSync(big, 'w');
    fs.writeSync(fd, encodeNpyHeader('<f4', [ROWS, COLS]));
    const chunkRows = 256;
    const chunk = new Float32Array(chunkRows * COLS);
    for (let r0 = 0; r0 < ROWS; r0 += chunkRows) {
      for (let r = 0; r < chunkRows; r++) for (let c = 0; c < COLS; c++) chunk[r * COLS + c] = r0 + r + c / 1024;
      fs.writeSync(fd, chunk);
    }
    fs.closeSync(fd);
    expect(fs.statSync(big).size).toBeGreaterThan(50 * 1024 * 1024);
  });

  it('readRows reads only the requested byte range', () => {
    const spy = vi.spyOn(fs, 'readSync');
    const f = openNpy(big);
    const headerReads = readCalls(spy).length;
    const rows = f.readRows(5000, 32) as Float32Array;
    f.close();
    const dataCalls = readCalls(spy).slice(headerReads);
    const sizes = dataCalls.map((c) => c[3]);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(32 * COLS * 4);
    expect(dataCalls[0]![4]).toBe(f.dataOffset + 5000 * COLS * 4);
    expect(rows[0]).toBe(5000);
    expect(rows[31 * COLS + 1023]).toBe(5031 + 1023 / 1024);
    // the header itself is read in a few small pieces
    expect(readCalls(spy).slice(0, headerReads).every((c) => c[3] <= 4096)).toBe(true);
  });

  // Memory is asserted through the read sizes: RSS is too noisy with a lazy GC.
  it('a source over a 50 MB file never reads more than one batch at a time', async () => {
    const spy = vi.spyOn(fs, 'readSync');
    const source = await npySource(big, { batchSize: 200, inputName: 'x' });
    expect(source.totalSamples).toBe(ROWS);
    expect(source.totalBatches).toBe(64);
    let batches = 0;
    let checksum = 0;
    for await (const b of source) {
      const t = b.inputs.x!;
      expect(t.dims).toEqual([200, 1024]);
      checksum += (t.data as Float32Array)[0]!;
      batches++;
    }
    expect(batches).toBe(64);
    expect(checksum).toBe((64 * 63 * 200) / 2);
    const maxRead = Math.max(...readCalls(spy).map((c) => c[3]));
    expect(maxRead).toBeLessThanOrEqual(200 * COLS * 4);
    const total = readCalls(spy).reduce((a, c) => a + c[3], 0);
    expect(total).toBeLessThan(ROWS * COLS * 4 + 64 * 1024); // each byte read once (+ headers)
  });
});
