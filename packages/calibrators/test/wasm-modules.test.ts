import { describe, expect, it } from 'vitest';
import { compileCountBins, compileSweeps } from '../../../scripts/gen-wasm.mjs';
import { COUNT_BINS_WASM } from '../src/wasm/count-bins.wasm.js';
import { SWEEPS_WASM } from '../src/wasm/sweeps.wasm.js';

// The committed WebAssembly is what its sources compile to (regenerate both:
// npm run gen:wasm).
describe('committed WebAssembly modules', () => {
  it('count-bins.wasm.ts is count-bins.wat as wabt compiles it', async () => {
    expect(Array.from(COUNT_BINS_WASM)).toEqual(Array.from(await compileCountBins()));
  });

  it('sweeps.wasm.ts is assembly/sweeps.ts as AssemblyScript compiles it', async () => {
    expect(Array.from(SWEEPS_WASM)).toEqual(Array.from(await compileSweeps()));
  }, 30_000);
});
