import { describe, expect, it } from 'vitest';
import { createProgress, detectProgressMode, formatDuration } from '../src/util/progress.js';

class FakeStream {
  chunks: string[] = [];
  constructor(readonly isTTY: boolean) {}
  columns = 120;
  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return true;
  }
  // cli-progress' terminal helpers (readline cursorTo/clearLine) call these on TTYs
  cursorTo(): boolean {
    return true;
  }
  clearLine(): boolean {
    return true;
  }
  moveCursor(): boolean {
    return true;
  }
  get text(): string {
    return this.chunks.join('');
  }
}

describe('progress mode', () => {
  it('bar on a TTY; lines when not a TTY, on CI or TERM=dumb; off with QDEPLOY_NO_PROGRESS', () => {
    const tty = new FakeStream(true);
    const pipe = new FakeStream(false);
    expect(detectProgressMode(tty, {})).toBe('bar');
    expect(detectProgressMode(pipe, {})).toBe('lines');
    expect(detectProgressMode(tty, { CI: 'true' })).toBe('lines');
    expect(detectProgressMode(tty, { CI: 'false' })).toBe('bar');
    expect(detectProgressMode(tty, { TERM: 'dumb' })).toBe('lines');
    expect(detectProgressMode(tty, { QDEPLOY_NO_PROGRESS: '1' })).toBe('off');
    expect(detectProgressMode(pipe, { QDEPLOY_NO_PROGRESS: '1', CI: '1' })).toBe('off');
    expect(detectProgressMode(tty, { QDEPLOY_NO_PROGRESS: '0' })).toBe('bar');
  });

  it('formats durations', () => {
    expect(formatDuration(0.42)).toBe('0.4s');
    expect(formatDuration(42)).toBe('42s');
    expect(formatDuration(65)).toBe('1m05s');
    expect(formatDuration(3 * 3600 + 120)).toBe('3h02m');
    expect(formatDuration(NaN)).toBe('?');
  });
});

describe('createProgress', () => {
  it('non-TTY: plain periodic lines with rate and ETA, a summary, no control codes', () => {
    const stream = new FakeStream(false);
    let t = 1000;
    const p = createProgress({ label: 'calibrate', total: 16, unit: 'batch', stream, env: {}, intervalMs: 5000, now: () => t });
    expect(p.mode).toBe('lines');
    for (let i = 0; i < 16; i++) {
      t += 1000; // one batch of 32 per second
      p.tick(32);
    }
    p.stop();
    p.stop();
    const lines = stream.text.trimEnd().split('\n');
    expect(lines).toEqual([
      'calibrate: 5/16 batches (160 samples), 32 samples/s, ETA 11s',
      'calibrate: 10/16 batches (320 samples), 32 samples/s, ETA 6.0s',
      'calibrate: 15/16 batches (480 samples), 32 samples/s, ETA 1.0s',
      'calibrate: done, 16 batches, 512 samples in 16s (32 samples/s)',
    ]);
    // eslint-disable-next-line no-control-regex
    expect(stream.text).not.toMatch(/\u001b|\r/);
  });

  it('non-TTY without a total, counting samples', () => {
    const stream = new FakeStream(false);
    let t = 0;
    const p = createProgress({ label: 'eval', unit: 'sample', stream, env: {}, intervalMs: 1000, now: () => t });
    t = 500;
    p.tick(10);
    t = 2000;
    p.tick(10);
    p.stop();
    expect(stream.text).toBe('eval: 20 samples, 10 samples/s\neval: done, 2 batches, 20 samples in 2.0s (10 samples/s)\n');
  });

  it('QDEPLOY_NO_PROGRESS=1 prints nothing', () => {
    const stream = new FakeStream(true);
    const p = createProgress({ label: 'calibrate', total: 4, unit: 'batch', stream, env: { QDEPLOY_NO_PROGRESS: '1' } });
    expect(p.mode).toBe('off');
    p.tick(8);
    p.stop();
    expect(stream.text).toBe('');
  });

  it('TTY: a cli-progress bar with count, rate and ETA', () => {
    const stream = new FakeStream(true);
    let t = 0;
    const p = createProgress({ label: 'calibrate', total: 4, unit: 'batch', stream, env: {}, now: () => t });
    expect(p.mode).toBe('bar');
    for (let i = 0; i < 4; i++) {
      t += 500;
      p.tick(8);
    }
    p.stop();
    expect(stream.text).toContain('calibrate [');
    expect(stream.text).toContain('4/4 batches | 16 samples/s | ETA 0.0s');
  });
});
