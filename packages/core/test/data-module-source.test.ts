import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { moduleSource } from '../src/calibrate/data/module-source.js';
import { toForwardLoop } from '../src/calibrate/data/forward-loop.js';
import type { ModelInputInfo } from '../src/calibrate/data/validate.js';
import type { Feed } from '../src/calibrate/types.js';
import { FMNIST_INPUT, collect, expectDataErrorAsync, makeTmp } from './fixtures/data/helpers.js';

let tmp: string;
// The temp folder has no node_modules: a module reaches onnxruntime-node by absolute URL.
const ORT_URL = pathToFileURL(createRequire(import.meta.url).resolve('onnxruntime-node')).href;

beforeAll(() => {
  tmp = makeTmp('modules');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
}

const TWO_INPUTS: ModelInputInfo[] = [
  { name: 'ids', dims: ['batch', 4], type: 'int32' },
  { name: 'scale', dims: ['batch', 1], type: 'float32' },
];

describe('moduleSource', () => {
  it('.mjs default async generator of real ort tensors; limit slices the last batch', async () => {
    const file = write(
      'gen.mjs',
      `import ortPkg from '${ORT_URL}';
       export default async function* ({ batchSize, inputNames }) {
         for (let b = 0; b < 4; b++) {
           const data = new Float32Array(batchSize * 784).fill(b);
           yield new ortPkg.Tensor('float32', data, [batchSize, 1, 28, 28]);
         }
       }`,
    );
    const source = await moduleSource(file, { modelInputs: [FMNIST_INPUT], batchSize: 8, limit: 20 });
    expect(source.totalSamples).toBeUndefined();
    const batches = await collect(source);
    expect(batches.map((b) => b.samples)).toEqual([8, 8, 4]);
    const last = batches[2]!.inputs.input!;
    expect(last).toBeInstanceOf(ort.Tensor);
    expect(last.dims).toEqual([4, 1, 28, 28]);
    expect((last.data as Float32Array).length).toBe(4 * 784);
    expect((last.data as Float32Array)[0]).toBe(2);
  });

  it('.cjs `calibrationData` array of plain tensor-like objects', async () => {
    const file = write(
      'data.cjs',
      `const t = (v) => ({ type: 'float32', dims: [2, 1, 28, 28], data: new Float32Array(2 * 784).fill(v) });
       module.exports = { calibrationData: [t(1), t(2), { input: t(3) }] };`,
    );
    const source = await moduleSource(file, { modelInputs: [FMNIST_INPUT] });
    expect(source.totalBatches).toBe(3);
    const batches = await collect(source);
    expect(batches.map((b) => (b.inputs.input!.data as Float32Array)[0])).toEqual([1, 2, 3]);
    expect(batches.every((b) => b.inputs.input instanceof ort.Tensor)).toBe(true);
  });

  it('.ts module (jiti) with types, arrays of tensors in model-input order', async () => {
    const file = write(
      'multi.ts',
      `interface TensorLike { type: 'int32' | 'float32'; dims: number[]; data: Int32Array | Float32Array }
       const ids = (n: number): TensorLike => ({ type: 'int32', dims: [n, 4], data: new Int32Array(n * 4).fill(7) });
       const scale = (n: number): TensorLike => ({ type: 'float32', dims: [n, 1], data: new Float32Array(n).fill(0.5) });
       export const calibrationData = async function* (): AsyncGenerator<TensorLike[] | Record<string, TensorLike>> {
         yield [ids(3), scale(3)];
         yield { ids: ids(2), scale: scale(2) } as const;
       };`,
    );
    const source = await moduleSource(file, { modelInputs: TWO_INPUTS });
    const seen: Feed[] = [];
    const loop = toForwardLoop(source, { modelInputs: TWO_INPUTS });
    await loop(async (feed) => {
      seen.push(feed);
    });
    expect(seen).toHaveLength(2);
    const first = seen[0] as Record<string, ort.Tensor>;
    expect(first.ids!.dims).toEqual([3, 4]);
    expect(first.scale!.type).toBe('float32');
    expect((seen[1] as Record<string, ort.Tensor>).ids!.dims).toEqual([2, 4]);
  });

  it('.ts forwardLoop(run): bridged batch by batch, stopped early by limit', async () => {
    const file = write(
      'loop.ts',
      `export const log: string[] = [];
       export async function forwardLoop(run: (feed: unknown) => Promise<void>): Promise<void> {
         for (let b = 0; b < 10; b++) {
           log.push('run ' + b);
           await run({ type: 'float32', dims: [4, 1, 28, 28], data: new Float32Array(4 * 784).fill(b) });
           log.push('done ' + b);
         }
         log.push('end');
       }`,
    );
    const all = await collect(await moduleSource(file, { modelInputs: [FMNIST_INPUT] }));
    expect(all.map((b) => (b.inputs.input!.data as Float32Array)[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

    const limited = await moduleSource(file, { modelInputs: [FMNIST_INPUT], limit: 10 });
    const order: string[] = [];
    for await (const b of limited) order.push(`got ${b.index}:${b.samples}`);
    expect(order).toEqual(['got 0:4', 'got 1:4', 'got 2:2']);
  });

  it('forwardLoop runs at most one batch ahead and its errors propagate', async () => {
    const file = write(
      'loop-fail.mjs',
      `export const events = [];
       export async function forwardLoop(run) {
         for (let b = 0; b < 3; b++) {
           events.push('run ' + b);
           await run({ type: 'float32', dims: [1, 1, 28, 28], data: new Float32Array(784) });
           events.push('ran ' + b);
         }
         throw new Error('the user loop broke');
       }`,
    );
    const mod = (await import(pathToFileURL(file).href)) as { events: string[] };
    const source = await moduleSource(file, { modelInputs: [FMNIST_INPUT] });
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const b of source) {
          seen.push(`consume ${b.index} after [${mod.events.join(', ')}]`);
        }
      })(),
    ).rejects.toThrow('the user loop broke');
    expect(seen[0]).toBe('consume 0 after [run 0]');
    expect(seen[1]).toBe('consume 1 after [run 0, ran 0, run 1]');
  });

  it('toForwardLoop: onBatch per batch, empty module is an error', async () => {
    const file = write('three.mjs', `export default [1, 2, 3].map((v) => ({ type: 'float32', dims: [v, 1, 28, 28], data: new Float32Array(v * 784) }));`);
    const counts: number[] = [];
    const runs: number[] = [];
    await toForwardLoop(await moduleSource(file, { modelInputs: [FMNIST_INPUT] }), {
      modelInputs: [FMNIST_INPUT],
      onBatch: (b) => void counts.push(b.samples),
    })(async (feed) => void runs.push((feed as Record<string, ort.Tensor>).input!.dims[0]!));
    expect(counts).toEqual([1, 2, 3]);
    expect(runs).toEqual([1, 2, 3]);

    const empty = write('empty.mjs', `export default [];`);
    await expectDataErrorAsync(
      toForwardLoop(await moduleSource(empty, { modelInputs: [FMNIST_INPUT] }))(async () => {}),
      'empty',
      new RegExp(`no calibration samples in ${empty}`),
    );
  });

  it('errors: nothing exported, load failure, bad items', async () => {
    const none = write('none.mjs', `export const something = 1; export function helper() {}`);
    await expectDataErrorAsync(
      moduleSource(none, { modelInputs: [FMNIST_INPUT] }),
      'module',
      /none\.mjs: no calibration data exported: expected 'default' or 'calibrationData'.*'forwardLoop\(run\)'.*exports: something, helper/,
    );
    const broken = write('broken.ts', `export default [ this is not typescript`);
    await expectDataErrorAsync(moduleSource(broken, {}), 'module', /broken\.ts: cannot load data module/);
    const bad = write('bad.mjs', `export default [{ input: 42 }];`);
    await expectDataErrorAsync(collect(await moduleSource(bad, { modelInputs: [FMNIST_INPUT] })), 'invalid-option', /batch 0 of .*bad\.mjs: input 'input' is number, not a tensor/);
    const fnBad = write('fn-bad.mjs', `export default () => 42;`);
    await expectDataErrorAsync(collect(await moduleSource(fnBad, {})), 'module', /returned number, not an iterable of feeds/);
    await expectDataErrorAsync(moduleSource(path.join(tmp, 'nope.mjs')), 'not-found', /nope\.mjs: no such file/);
  });
});
