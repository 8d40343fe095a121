// Fuzzing the CLI's inputs: truncated and bit-flipped models, malformed .npy files and
// broken config files. Every run must end — no hang (timeout), no crash (signal), no
// uncaught exception — with exit 2 and a single `qdeploy: ...` line on stderr. (A bit flip
// inside weight bytes leaves a valid model: those runs may succeed, exit 0.)
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpyHeader } from '../src/calibrate/data/npy.js';
import { CALIB_32, MOBILENET_BN, errLines, hasStackTrace, makeTmp, requireBuilt, runCli, type CliResult } from './fixtures/cli/helpers.js';

interface Case {
  name: string;
  args: string[];
  /** Exit codes allowed (default [2]). */
  codes?: number[];
  cwd?: string;
}

let tmp: string;
const cases: Case[] = [];

/** Deterministic PRNG (LCG) so a failure can be reproduced. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function npy(name: string, header: Buffer | Uint8Array, body: Buffer | Uint8Array): string {
  const file = path.join(tmp, 'npy', name);
  fs.writeFileSync(file, Buffer.concat([Buffer.from(header), Buffer.from(body)]));
  return file;
}

function rawHeader(dict: string): Buffer {
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  const h = Buffer.alloc(total, 0x20);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(h);
  h.writeUInt16LE(total - 10, 8);
  h.write(dict, 10, 'latin1');
  h[total - 1] = 0x0a;
  return h;
}

beforeAll(() => {
  requireBuilt();
  tmp = makeTmp('fuzz');
  for (const d of ['models', 'npy', 'configs', 'out']) fs.mkdirSync(path.join(tmp, d));
  const model = fs.readFileSync(MOBILENET_BN);
  const out = (n: string) => path.join(tmp, 'out', `${n}.onnx`);
  const quantize = (m: string, n: string, calib = CALIB_32) => ['quantize', m, '-o', out(n), '--calib', calib, '--limit', '8'];

  // Truncated models (including an empty file): exit 2.
  for (const frac of [0, 0.0001, 0.1, 0.37, 0.73, 0.9999]) {
    const file = path.join(tmp, 'models', `trunc-${frac}.onnx`);
    fs.writeFileSync(file, model.subarray(0, Math.floor(model.length * frac)));
    cases.push({ name: `truncated model ${frac}`, args: frac === 0.37 ? ['inspect', file] : quantize(file, `trunc-${frac}`) });
  }
  // Bit-flipped models: in the graph structure (first 4 KiB) or anywhere (16 flips).
  const rand = rng(20240611);
  for (let i = 0; i < 8; i++) {
    const b = Buffer.from(model);
    const flips = i < 4 ? 1 : 16;
    for (let k = 0; k < flips; k++) b[Math.floor(rand() * (i < 4 ? 4096 : b.length))]! ^= 1 << Math.floor(rand() * 8);
    const file = path.join(tmp, 'models', `flip-${i}.onnx`);
    fs.writeFileSync(file, b);
    cases.push({ name: `bit-flipped model ${i}`, args: quantize(file, `flip-${i}`), codes: [0, 2] });
  }

  // Malformed .npy files.
  const calib = fs.readFileSync(CALIB_32);
  const good = encodeNpyHeader('<f4', [4, 1, 28, 28]);
  const body = new Uint8Array(4 * 784 * 4);
  const nan = new Float32Array(4 * 784);
  nan[100] = NaN;
  const npyFiles = [
    npy('empty.npy', Buffer.alloc(0), Buffer.alloc(0)),
    npy('bad-magic.npy', Buffer.from('PK\x03\x04 definitely not numpy'), body),
    npy('header-past-end.npy', Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0xff, 0xff]), Buffer.alloc(20)),
    npy('bad-dict.npy', rawHeader("{'descr': '<f4', 'shape': (4, 1, 28"), body),
    npy('truncated-data.npy', calib.subarray(0, 128 + 1000), Buffer.alloc(0)),
    npy('wrong-shape.npy', encodeNpyHeader('<f4', [4, 3, 28, 28]), new Uint8Array(4 * 3 * 784 * 4)),
    npy('fortran.npy', rawHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (4, 1, 28, 28), }"), body),
    npy('nan.npy', good, new Uint8Array(nan.buffer)),
  ];
  for (const f of npyFiles) cases.push({ name: `npy ${path.basename(f)}`, args: quantize(MOBILENET_BN, path.basename(f), f) });

  // Broken config files.
  const cfg = (name: string, text: string) => {
    const file = path.join(tmp, 'configs', name);
    fs.writeFileSync(file, text);
    cases.push({ name: `config ${name}`, args: ['run', '-c', file] });
  };
  const base = { model: MOBILENET_BN, output: out('cfg'), backend: 'tensorrt', calibration: { data: CALIB_32, limit: 8 } };
  cfg('syntax.json', '{ "model": "m.onnx", "output": }');
  cfg('syntax.yaml', 'model: m.onnx\n\toutput: o.onnx\n');
  cfg('wrong-type.json', JSON.stringify({ ...base, calibration: { data: CALIB_32, batchSize: 'abc' } }));
  cfg('unknown-key.yaml', `model: ${MOBILENET_BN}\noutput: ${out('cfg')}\nbackend: tensorrt\ncalibrate: {}\n`);
  cfg('unknown-plugin.json', JSON.stringify({ ...base, plugins: ['qdeploy-plugin-nowhere'] }));
  cfg('unknown-backend.json', JSON.stringify({ ...base, backend: 'qdeploy-backend-nowhere' }));
  cfg('syntax.ts', 'export default defineConfig({ model: \n');
  cfg('missing-model.json', JSON.stringify({ ...base, model: 'no/such/model.onnx' }));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function pool<T, R>(items: readonly T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

describe('CLI fuzz', () => {
  it('every broken input ends with exit 2 and one line, never a crash, a stack trace or a hang', async () => {
    expect(cases).toHaveLength(30);
    const results = await pool(cases, 2, (c) => runCli(c.args, { cwd: c.cwd ?? tmp, timeoutMs: 30_000 }));
    const failures: string[] = [];
    if (process.env.FUZZ_DEBUG) results.forEach((r, i) => console.log(cases[i]!.name, r.code, r.ms, errLines(r).join(" / ").slice(0, 220)));
    results.forEach((r: CliResult, i) => {
      const c = cases[i]!;
      const lines = errLines(r);
      const allowed = c.codes ?? [2];
      const problems: string[] = [];
      if (r.timedOut) problems.push('timed out');
      if (r.signal) problems.push(`killed by ${r.signal}`);
      if (!allowed.includes(r.code ?? -1)) problems.push(`exit ${r.code}`);
      if (hasStackTrace(r.stderr)) problems.push('stack trace');
      if (r.code === 2 && (lines.length !== 1 || !lines[0]!.startsWith('qdeploy: '))) problems.push(`stderr ${JSON.stringify(lines)}`);
      if (r.code === 0 && lines.some((l) => !l.startsWith('qdeploy: '))) problems.push(`stderr ${JSON.stringify(lines)}`);
      if (problems.length) failures.push(`${c.name}: ${problems.join(', ')}\n    ${r.stderr.slice(0, 400)}`);
    });
    expect(failures, failures.join('\n')).toEqual([]);
    // The flips in the graph structure are caught (not every flip survives as a valid model).
    const flips = results.filter((_, i) => cases[i]!.name.startsWith('bit-flipped'));
    expect(flips.filter((r) => r.code === 2).length).toBeGreaterThanOrEqual(3);
    // Nothing half-written: failed runs leave no output and no temporary file.
    const written = fs.readdirSync(path.join(tmp, 'out'));
    const succeeded = results.filter((r) => r.code === 0).length;
    expect(written.filter((f) => !f.endsWith('.onnx'))).toEqual([]);
    expect(written).toHaveLength(succeeded);
  }, 300_000);
});
