// Ctrl-C / SIGTERM during `qdeploy quantize`: exit 130 / 143 and no temporary file left
// behind, at whatever moment the signal lands; the output is either absent or complete.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../src/onnx/load.js';
import { CALIB_32, CLI_FIXTURES, MOBILENET_BN, makeTmp, requireBuilt, runCli } from './fixtures/cli/helpers.js';

const SLOW_DATA = path.join(CLI_FIXTURES, 'slow-data.mjs');
let tmp: string;
beforeAll(() => {
  requireBuilt();
  tmp = makeTmp('signal');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function interruptAfterBatches(signal: NodeJS.Signals, batches: number) {
  let sent = false;
  return (chunk: string, child: import('node:child_process').ChildProcess) => {
    if (!sent && new RegExp(`slow-data: batch ${batches}\\b`).test(chunk)) {
      sent = true;
      child.kill(signal);
    }
  };
}

describe('interrupting quantize', () => {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal} during calibration: exit ${code}, nothing written`, async () => {
      const dir = path.join(tmp, signal);
      fs.mkdirSync(dir);
      const out = path.join(dir, 'model.int8.onnx');
      const r = await runCli(['quantize', MOBILENET_BN, '-o', out, '--calib', SLOW_DATA], { onStderr: interruptAfterBatches(signal, 3), timeoutMs: 60_000 });
      expect(r.timedOut).toBe(false);
      expect(r.code).toBe(code);
      expect(r.stderr).toMatch(new RegExp(`qdeploy: interrupted \\(${signal}\\); no partial output left behind\\n$`));
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(fs.readdirSync(dir)).toEqual([]);
    });
  }

  it('at any moment of a short run: either no output or a complete one, never a temporary file', async () => {
    const dir = path.join(tmp, 'random');
    fs.mkdirSync(dir);
    const outcomes: number[] = [];
    for (const [i, delay] of [100, 300, 500, 700, 900, 1100].entries()) {
      const out = path.join(dir, `m${i}.onnx`);
      let timer: NodeJS.Timeout | undefined;
      const r = await runCli(['quantize', MOBILENET_BN, '-o', out, '--calib', CALIB_32, '--batch-size', '4'], {
        timeoutMs: 60_000,
        onSpawn: (child) => (timer = setTimeout(() => child.kill('SIGINT'), delay)),
      });
      clearTimeout(timer);
      // Killed by the signal itself only when it lands before node has run the bin at all.
      const code = r.code ?? (r.signal === 'SIGINT' ? 130 : -1);
      expect([0, 130], r.stderr).toContain(code);
      outcomes.push(code);
      // A signal can land after the output was renamed into place: then it is complete and
      // the message says so; otherwise nothing is there.
      const written = fs.existsSync(out);
      if (written) expect(loadModel(out).graph.opCounts().QuantizeLinear).toBeGreaterThan(0);
      if (code === 0) expect(written).toBe(true);
      else if (r.code === 130) {
        const said = /interrupted \(SIGINT\); (.*) was already written in full\n$/.exec(r.stderr);
        expect(said?.[1], r.stderr).toBe(written ? path.resolve(out) : undefined);
      } else expect(written).toBe(false);
      expect(fs.readdirSync(dir).filter((f) => !/^m\d\.onnx$/.test(f))).toEqual([]);
    }
    expect(outcomes).toContain(130);
  });
});
