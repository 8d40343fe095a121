// The bundled calibration fixture is the start of the shared Fashion-MNIST calibration split.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openNpy } from '../src/calibrate/data/npy.js';
import { shared } from './helpers/fixtures.js';

describe('openNpy on the shared calib_512.npy', () => {
  it('matches the first 64 samples of fixtures/data/calib_64.npy', () => {
    const f = openNpy(shared('calib_512.npy'));
    const g = openNpy(path.join(import.meta.dirname, 'fixtures/data/calib_64.npy'));
    try {
      expect(f.shape).toEqual([512, 1, 28, 28]);
      expect(g.readRows(0, 64)).toEqual(f.readRows(0, 64));
    } finally {
      f.close();
      g.close();
    }
  });
});
