import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const here = path.dirname(new URL(import.meta.url).pathname);
const bin = path.resolve(here, '../packages/core/dist/cli/bin.js');

/** Runs an example's config through the built CLI, as the README tells users to. */
async function runExample(dir: string, config: string) {
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run npm run build first`);
  const cwd = path.join(here, dir);
  const { stdout } = await run(process.execPath, [bin, 'run', '-c', config, '--json', '--no-progress'], { cwd, env: { ...process.env, QDEPLOY_NO_PROGRESS: '1' } });
  return JSON.parse(stdout);
}

describe('examples', () => {
  it('fashion-mnist: TensorRT QDQ model within 0.5 point of FP32 on the 500 bundled test images', async () => {
    const r = await runExample('fashion-mnist', 'qdeploy.config.json');
    expect(fs.existsSync(r.quantize.output)).toBe(true);
    expect(r.quantize.matches).toMatchObject({ ConvBNReLU: 7, ConvBNAddReLU: 6 });
    expect(r.evaluation.samples).toBe(500);
    expect(r.evaluation.top1).toBeGreaterThanOrEqual(r.evaluation.ref.top1 - 0.005);
  });

  it('fashion-mnist on the reference backend: accurate, and faster than FP32', async () => {
    const r = await runExample('fashion-mnist', 'qdeploy.reference.config.yaml');
    expect(r.evaluation.top1).toBeGreaterThanOrEqual(r.evaluation.ref.top1 - 0.005);
    expect(r.bench).toBeDefined();
  });

  it('custom-calibrator: a plugin file outside the packages registers "mean-max" and is used', async () => {
    const r = await runExample('custom-calibrator', 'qdeploy.config.yaml');
    expect(r.quantize.calibration.method).toBe('mean-max');
    expect(r.evaluation.top1).toBeGreaterThanOrEqual(r.evaluation.ref.top1 - 0.01);
  });
});
