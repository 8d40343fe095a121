import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProtectedPathError, committedFiles, trackCommittedFiles, drainTempFiles, pendingTempFiles, writeFileAtomic } from '../src/util/atomic-write.js';
import { makeTmp } from './fixtures/data/helpers.js';

const CORE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
let tmp: string;
beforeAll(() => {
  tmp = makeTmp('atomic');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const listDir = (dir: string): string[] => fs.readdirSync(dir).sort();

describe('writeFileAtomic', () => {
  it('writes bytes or text and leaves no temp file', async () => {
    const dir = path.join(tmp, 'ok');
    fs.mkdirSync(dir);
    const target = path.join(dir, 'model.onnx');
    await writeFileAtomic(target, new Uint8Array([1, 2, 3]));
    expect([...fs.readFileSync(target)]).toEqual([1, 2, 3]);
    await writeFileAtomic(target, 'replaced');
    expect(fs.readFileSync(target, 'utf8')).toBe('replaced');
    await writeFileAtomic(target, async (tmpPath) => {
      expect(path.dirname(tmpPath)).toBe(dir);
      expect(pendingTempFiles()).toContain(tmpPath);
      fs.writeFileSync(tmpPath, 'streamed');
    });
    expect(fs.readFileSync(target, 'utf8')).toBe('streamed');
    expect(listDir(dir)).toEqual(['model.onnx']);
    expect(pendingTempFiles()).toEqual([]);
  });

  it('a failing writer leaves the old file intact and no temp file', async () => {
    const dir = path.join(tmp, 'fail');
    fs.mkdirSync(dir);
    const target = path.join(dir, 'out.onnx');
    fs.writeFileSync(target, 'old');
    await expect(
      writeFileAtomic(target, async (tmpPath) => {
        fs.writeFileSync(tmpPath, 'half');
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    expect(fs.readFileSync(target, 'utf8')).toBe('old');
    expect(listDir(dir)).toEqual(['out.onnx']);
    await expect(writeFileAtomic(target, async () => {})).rejects.toThrow(/did not create/);
    expect(listDir(dir)).toEqual(['out.onnx']);
    expect(pendingTempFiles()).toEqual([]);
  });

  it('committedFiles lists each finished output by absolute path once tracked (what an interrupt reports)', async () => {
    const dir = path.join(tmp, 'committed');
    fs.mkdirSync(dir);
    const rel = path.relative(process.cwd(), path.join(dir, 'a.onnx'));
    await writeFileAtomic(rel, 'untracked');
    expect(committedFiles()).toEqual([]); // not kept unless asked for
    trackCommittedFiles();
    await writeFileAtomic(rel, 'a');
    await expect(writeFileAtomic(path.join(dir, 'b.onnx'), () => Promise.reject(new Error('disk full')))).rejects.toThrow('disk full');
    expect(committedFiles()).toEqual([path.join(dir, 'a.onnx')]);
  });

  it('refuses to overwrite a protected input (same path, relative path, symlink, hard link)', async () => {
    const dir = path.join(tmp, 'protect');
    fs.mkdirSync(dir);
    const input = path.join(dir, 'model.onnx');
    fs.writeFileSync(input, 'precious');
    fs.symlinkSync(input, path.join(dir, 'link.onnx'));
    fs.linkSync(input, path.join(dir, 'hard.onnx'));
    const rel = path.relative(process.cwd(), input);
    for (const target of [input, rel, path.join(dir, 'link.onnx'), path.join(dir, 'hard.onnx'), path.join(dir, '.', 'model.onnx')]) {
      const err = await writeFileAtomic(target, 'oops', { protect: [input] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProtectedPathError);
      expect((err as ProtectedPathError).kind).toBe('protected-path');
      expect((err as Error).message).toMatch(/refusing to overwrite .*: it is the input .*model\.onnx/);
    }
    expect(fs.readFileSync(input, 'utf8')).toBe('precious');
    expect(listDir(dir)).toEqual(['hard.onnx', 'link.onnx', 'model.onnx']);
    await writeFileAtomic(path.join(dir, 'model.int8.onnx'), 'fine', { protect: [input] });
    expect(fs.readFileSync(path.join(dir, 'model.int8.onnx'), 'utf8')).toBe('fine');
  });

  it('drainTempFiles removes pending temp files (what the signal handler does)', async () => {
    const dir = path.join(tmp, 'drain');
    fs.mkdirSync(dir);
    let tmpSeen = '';
    await expect(
      writeFileAtomic(path.join(dir, 'x.onnx'), async (tmpPath) => {
        tmpSeen = tmpPath;
        fs.writeFileSync(tmpPath, 'partial');
        expect(drainTempFiles()).toEqual([tmpPath]);
        expect(fs.existsSync(tmpPath)).toBe(false);
      }),
    ).rejects.toThrow(/did not create/);
    expect(tmpSeen).not.toBe('');
    expect(listDir(dir)).toEqual([]);
  });

  it('SIGINT during a write removes the temp file and the process still dies of SIGINT', async () => {
    const dir = path.join(tmp, 'sigint');
    fs.mkdirSync(dir);
    const script = path.join(tmp, 'child.mts');
    fs.writeFileSync(
      script,
      `import fs from 'node:fs';
       import { writeFileAtomic } from ${JSON.stringify(path.join(CORE, 'src/util/atomic-write.ts'))};
       await writeFileAtomic(${JSON.stringify(path.join(dir, 'big.onnx'))}, async (tmpPath) => {
         fs.writeFileSync(tmpPath, 'partial');
         process.stdout.write('READY ' + tmpPath + '\\n');
         await new Promise((r) => setTimeout(r, 60_000));
       });`,
    );
    const child = spawn(process.execPath, ['--import', 'jiti/register', script], { cwd: CORE, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    const tmpPath = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /READY (.+)\n/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.on('exit', () => reject(new Error(`child exited early: ${err}`)));
    });
    expect(fs.existsSync(tmpPath)).toBe(true);
    child.kill('SIGINT');
    const { signal } = await exited;
    expect(signal).toBe('SIGINT');
    expect(fs.existsSync(tmpPath)).toBe(false);
    expect(listDir(dir)).toEqual([]);
  });
});
