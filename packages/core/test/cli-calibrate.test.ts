// `qdeploy calibrate --shard i/n` → `merge-calibration` → `quantize --calibration`: the
// same model as quantize with the data, and the refusals (another model, another
// placement, a missing shard, a damaged or newer file).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../src/onnx/load.js';
import { readCalibrationFile } from '../src/calibrate/calibration-file.js';
import { calibrateModel, quantizeModel } from '../src/cli/pipeline/index.js';
import { CALIB_32, MOBILENET_BN, RESNET_BN, makeTmp, requireBuilt, runCli } from './fixtures/cli/helpers.js';

let tmp: string;
beforeAll(() => {
  requireBuilt();
  tmp = makeTmp('calibrate');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const at = (name: string) => path.join(tmp, name);

/** QuantizeLinear scale values by the tensor each Q quantizes. */
function scales(file: string): Record<string, number[]> {
  const g = loadModel(file).graph;
  return Object.fromEntries(g.nodesOf('QuantizeLinear').map((n) => [n.input(0)!.name, Array.from(n.input(1)!.constant()!.toFloat32())]));
}

describe('qdeploy calibrate / merge-calibration / quantize --calibration', () => {
  const common = ['--backend', 'tensorrt', '--calibrator', 'minmax', '--batch-size', '8'];

  it('two shards merged and applied give the model quantize makes from the data', async () => {
    for (const i of [0, 1]) {
      const r = await runCli(['calibrate', RESNET_BN, '--calib', CALIB_32, ...common, '--shard', `${i}/2`, '--states-out', at(`shard_${i}.json`)]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`calibrated shard ${i}/2 \\(.*calib_32\\.npy \\[samples ${i * 16}–${i * 16 + 15}\\]\\): 16 samples, 16 quantizers, minmax`));
    }
    const shard = JSON.parse(fs.readFileSync(at('shard_0.json'), 'utf8'));
    expect(shard).toMatchObject({ format: 'qdeploy-calibration', version: 1, method: 'minmax', placement: { backend: 'tensorrt' }, shards: [{ index: 0, count: 2, samples: 16, batches: 2 }] });

    const m = await runCli(['merge-calibration', at('shard_1.json'), at('shard_0.json'), '-o', at('states.json')]);
    expect(m.code).toBe(0);
    expect(m.stdout).toMatch(/merged 2 shards \(32 samples, 16 quantizers, minmax\)/);

    const a = await runCli(['quantize', RESNET_BN, '-o', at('from-file.onnx'), '--backend', 'tensorrt', '--calibration', at('states.json')]);
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/calibration\s+minmax on 32 samples \(4 batches\)/);
    const b = await runCli(['quantize', RESNET_BN, '-o', at('from-data.onnx'), '--calib', CALIB_32, ...common]);
    expect(b.code).toBe(0);
    const fromData = scales(at('from-data.onnx'));
    expect(Object.keys(fromData)).toHaveLength(16);
    expect(scales(at('from-file.onnx'))).toEqual(fromData);
  });

  it('refuses a calibration that does not fit: another model, another placement, a missing shard', async () => {
    const other = await runCli(['quantize', MOBILENET_BN, '-o', at('x.onnx'), '--calibration', at('states.json')]);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/states\.json: calibrated on another model \(fmnist_resnet_bn\.onnx, sha256 [0-9a-f]{12}…\), not fmnist_mobilenet_bn\.onnx/);

    // Every Add's inputs quantized: quantizers the calibration run did not have.
    const placement = await runCli(['quantize', RESNET_BN, '-o', at('y.onnx'), '--backend', 'reference', '--calibration', at('states.json')]);
    expect(placement.code).toBe(2);
    expect(placement.stderr).toMatch(/states\.json: no calibration state for \d+ of the \d+ activation quantizers \(".*\): the placement differs from the calibration run \(backend "tensorrt", 16 quantizers\)/);
    expect(fs.existsSync(at('y.onnx'))).toBe(false);

    const partial = await runCli(['merge-calibration', at('shard_0.json'), '-o', at('partial.json')]);
    expect(partial.code).toBe(2);
    expect(partial.stderr).toMatch(/missing shard 1\/2 \(given 1 of 2\)/);
    const twice = await runCli(['merge-calibration', at('shard_0.json'), at('shard_0.json'), '-o', at('partial.json')]);
    expect(twice.stderr).toMatch(/shard_0\.json: shard 0\/2 is also in .*shard_0\.json/);
    const direct = await runCli(['quantize', RESNET_BN, '-o', at('z.onnx'), '--calibration', at('shard_0.json')]);
    expect(direct.stderr).toMatch(/shard_0\.json: holds 1 of 2 shards \(missing 1\/2\); merge them all with qdeploy merge-calibration/);
  });

  it('refuses a damaged, foreign or newer file, and a bad --shard, naming the field', async () => {
    const good = JSON.parse(fs.readFileSync(at('states.json'), 'utf8'));
    const cases: [string, unknown, RegExp][] = [
      ['newer.json', { ...good, version: 2 }, /newer\.json: calibration file version 2 is newer than this qdeploy reads \(1\)/],
      ['foreign.json', { hello: 1 }, /foreign\.json: not a qdeploy calibration file/],
      ['field.json', { ...good, histogramStride: 'two' }, /field\.json: histogramStride: expected a non-negative integer, got "two"/],
      ['state.json', { ...good, states: { ...good.states, input: { method: 7 } } }, /state\.json: states\.input\.method: expected a string, got 7/],
    ];
    // In process (the CLI runs the same reader), then one through the CLI for the exit code.
    for (const [name, content, why] of cases) {
      fs.writeFileSync(at(name), JSON.stringify(content));
      expect(() => readCalibrationFile(at(name)), name).toThrow(why);
    }
    fs.writeFileSync(at('text.json'), 'not json');
    expect(() => readCalibrationFile(at('text.json'))).toThrow(/text\.json: not JSON/);
    // A FIFO in the file's place is refused at once, not waited on.
    expect(spawnSync('mkfifo', [at('fifo.json')]).status).toBe(0);
    expect(() => readCalibrationFile(at('fifo.json'))).toThrow(/fifo\.json: is a FIFO \(named pipe\), not a calibration file/);
    const r = await runCli(['quantize', RESNET_BN, '-o', at('w.onnx'), '--calibration', at('newer.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(cases[0]![2]);
    const shard = await runCli(['calibrate', RESNET_BN, '--calib', CALIB_32, '--shard', '2/2', '--states-out', at('s.json')]);
    expect(shard.code).toBe(2);
    expect(shard.stderr).toMatch(/shard "2\/2" is not i\/n with 0 <= i < n/);
    const folder = await runCli(['calibrate', RESNET_BN, '--calib', CALIB_32, '--states-out', `${at('newdir')}/`]);
    expect(folder.code).toBe(2);
    expect(folder.stderr).toMatch(/ends with a path separator/);
    const both = await runCli(['quantize', RESNET_BN, '-o', at('w.onnx'), '--calib', CALIB_32, '--calibration', at('states.json')]);
    expect(both.stderr).toMatch(/give --calibration-data <data> or --calibration <file>, not both/);
  });

  it('re-exports from a saved histogram with another percentile, without the data (in process)', async () => {
    const base = { model: RESNET_BN, backend: 'tensorrt', plugins: ['@qdeploy/calibrators'], progress: false, log: () => {} };
    await calibrateModel({ ...base, calibration: { data: CALIB_32, method: 'percentile', batchSize: 16 }, statesOut: at('pct.json') });
    const run = (out: string, options?: Record<string, unknown>) => quantizeModel({ ...base, output: at(out), calibrationFile: at('pct.json'), calibrationFileOptions: options });
    const saved = await run('pct-default.onnx');
    expect(saved.calibration).toMatchObject({ method: 'percentile', samples: 32 });
    await run('pct-90.onnx', { percentile: 90 });
    const a = scales(at('pct-default.onnx'));
    const b = scales(at('pct-90.onnx'));
    // The stem's input keeps its minmax range; the histograms' 90th percentile is lower than their 99.99th.
    const lower = Object.keys(a).filter((t) => b[t]![0]! < a[t]![0]!);
    expect(lower.length).toBe(Object.keys(a).length - 1);
  });
});
