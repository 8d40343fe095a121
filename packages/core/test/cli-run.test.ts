// `qdeploy run`: config files in JSON, YAML and TS drive the pipeline, paths relative to
// the config file; the default file search; config errors name the file and the path.
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../src/cli/pipeline/index.js';
import { CALIB_32, EVAL_X, EVAL_Y, MOBILENET_BN, errLines, hasStackTrace, makeTmp, requireBuilt, runCli, writeUnder } from './fixtures/cli/helpers.js';

let tmp: string;
beforeAll(() => {
  requireBuilt();
  tmp = makeTmp('run');
  fs.mkdirSync(path.join(tmp, 'models'));
  fs.mkdirSync(path.join(tmp, 'data'));
  fs.copyFileSync(MOBILENET_BN, path.join(tmp, 'models/m.onnx'));
  fs.copyFileSync(CALIB_32, path.join(tmp, 'data/calib.npy'));
  fs.copyFileSync(EVAL_X, path.join(tmp, 'data/x.npy'));
  fs.copyFileSync(EVAL_Y, path.join(tmp, 'data/y.npy'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const write = (rel: string, text: string): string => writeUnder(tmp, rel, text);

async function expectRunsModel(output: string): Promise<void> {
  expect(fs.existsSync(output), output).toBe(true);
  const s = await ort.InferenceSession.create(output);
  const out = await s.run({ input: new ort.Tensor('float32', new Float32Array(2 * 784), [2, 1, 28, 28]) });
  expect(out[s.outputNames[0]!]!.dims).toEqual([2, 10]);
  await s.release();
}

describe('qdeploy run', () => {
  it('JSON config, run from another folder: paths relative to the config file', async () => {
    write(
      'configs/json/qdeploy.config.json',
      JSON.stringify({
        $schema: 'https://example.invalid/qdeploy.schema.json',
        model: '../../models/m.onnx',
        output: '../../out/json.onnx',
        backend: 'tensorrt',
        calibration: { data: '../../data/calib.npy', method: 'minmax', batchSize: 16 },
      }),
    );
    const r = await runCli(['run', '-c', 'configs/json/qdeploy.config.json', '--json'], { cwd: tmp });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as RunReport;
    expect(report.config).toBe(path.join(tmp, 'configs/json/qdeploy.config.json'));
    expect(report.quantize.model).toBe(path.join(tmp, 'models/m.onnx'));
    expect(report.quantize.output).toBe(path.join(tmp, 'out/json.onnx'));
    expect(report.quantize.calibration).toMatchObject({ method: 'minmax', samples: 32, batches: 2, data: path.join(tmp, 'data/calib.npy') });
    await expectRunsModel(path.join(tmp, 'out/json.onnx'));
  });

  it('YAML config found by the default search in the working directory, quant settings applied', async () => {
    const dir = path.join(tmp, 'configs/yaml');
    write(
      'configs/yaml/qdeploy.config.yaml',
      `model: ../../models/m.onnx
output: ../../out/yaml.onnx
backend: tensorrt
quant:
  weight: { perChannel: false }
calibration:
  data: ../../data/calib.npy
  method: percentile
  options: { percentile: 99.9 }
  limit: 16
`,
    );
    const r = await runCli(['run'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^config qdeploy\.config\.yaml\n/);
    expect(r.stdout).toMatch(/\[quantize\]\nquantized for tensorrt/);
    expect(r.stdout).toMatch(/calibration\s+percentile on 16 samples/);
    await expectRunsModel(path.join(tmp, 'out/yaml.onnx'));
    // Per-tensor weights: every weight DequantizeLinear has a scalar scale.
    const inspect = await runCli(['inspect', path.join(tmp, 'models/m.onnx'), '-c', 'qdeploy.config.yaml', '--json'], { cwd: dir });
    const j = JSON.parse(inspect.stdout) as { weightQuantizers: { axis: number | null; channels: number }[] };
    expect(j.weightQuantizers.every((w) => w.axis === null && w.channels === 1)).toBe(true);
  });

  it('TS config with defineConfig from @qdeploy/core, plus evaluation and bench steps', async () => {
    write(
      'configs/ts/qdeploy.config.ts',
      `import { defineConfig } from '@qdeploy/core';
const data = (f: string): string => \`../../data/\${f}\`;
export default defineConfig({
  model: '../../models/m.onnx',
  output: '../../out/ts.onnx',
  backend: 'tensorrt',
  calibration: { data: data('calib.npy'), method: 'entropy' },
  evaluate: { data: data('x.npy'), labels: data('y.npy'), limit: 50 },
  bench: { iterations: 5, warmup: 1, batchSize: 4, compare: true },
});
`,
    );
    const r = await runCli(['run', '--json'], { cwd: path.join(tmp, 'configs/ts') });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as RunReport;
    expect(report.quantize.output).toBe(path.join(tmp, 'out/ts.onnx'));
    expect(report.evaluation).toMatchObject({ samples: 50 });
    expect(report.evaluation!.top1).toBeGreaterThan(0.8);
    expect(report.evaluation!.ref!.model).toBe(path.join(tmp, 'models/m.onnx'));
    expect(report.evaluation!.ref!.agreement).toBeGreaterThan(0.9);
    expect(report.bench!.quantized.iterations).toBe(5);
    expect(report.bench!.fp32).toBeDefined();
    expect(report.bench!.speedup).toBeGreaterThan(0);
    // --no-evaluate / --no-bench skip the steps.
    const skip = await runCli(['run', '--json', '--no-evaluate', '--no-bench'], { cwd: path.join(tmp, 'configs/ts') });
    const s = JSON.parse(skip.stdout) as RunReport;
    expect(s.evaluation).toBeUndefined();
    expect(s.bench).toBeUndefined();
  });

  it('config errors exit 2: one line per issue with the file name and the path', async () => {
    const dir = path.join(tmp, 'configs/bad');
    write('configs/bad/qdeploy.config.yaml', 'model: m.onnx\noutput: o.onnx\nbackend: tensorrt\ncalibration:\n  data: c.npy\n  batchSize: abc\n');
    const r = await runCli(['run'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(errLines(r)).toEqual(['qdeploy: qdeploy.config.yaml: calibration.batchSize: expected a positive integer, got "abc"']);

    write('configs/bad/two.json', JSON.stringify({ model: 'm.onnx', output: 'o.onnx', backend: 'tensorrt', calibraton: { data: 'x' }, bench: { iterations: '10' } }));
    const two = await runCli(['run', '-c', 'two.json'], { cwd: dir });
    expect(two.code).toBe(2);
    expect(errLines(two)).toEqual([
      'qdeploy: two.json: bench.iterations: expected a positive integer, got "10"',
      'qdeploy: two.json: unknown key "calibraton" (did you mean "calibration"?)',
    ]);
    expect(hasStackTrace(two.stderr)).toBe(false);

    const none = await runCli(['run'], { cwd: path.join(tmp, 'data') });
    expect(none.code).toBe(2);
    expect(errLines(none)).toEqual([expect.stringMatching(/^qdeploy: no config file in .*data \(looked for qdeploy\.config\.ts, .*qdeploy\.config\.json\); pass -c <file>$/)]);

    write('configs/bad/same.json', JSON.stringify({ model: '../../models/m.onnx', output: '../../models/m.onnx', backend: 'tensorrt', calibration: { data: '../../data/calib.npy' } }));
    const before = fs.readFileSync(path.join(tmp, 'models/m.onnx'));
    const same = await runCli(['run', '-c', 'same.json'], { cwd: dir });
    expect(same.code).toBe(2);
    expect(errLines(same)).toEqual([expect.stringMatching(/^qdeploy: refusing to write .*models\/m\.onnx: it is the input/)]);
    expect(fs.readFileSync(path.join(tmp, 'models/m.onnx')).equals(before)).toBe(true);
  });

  it('quantize --config takes calibration and quant settings from the config (relative to it); flags win', async () => {
    write(
      'configs/forquantize/settings.yaml',
      `model: unused.onnx
output: unused.int8.onnx
backend: tensorrt
quant: { weight: { perChannel: false } }
calibration: { data: ../../data/calib.npy, method: percentile, limit: 8 }
`,
    );
    const out = path.join(tmp, 'out/flags.onnx');
    const r = await runCli(['quantize', path.join(tmp, 'models/m.onnx'), '-o', out, '-c', 'configs/forquantize/settings.yaml', '--calibrator', 'minmax', '--json'], { cwd: tmp });
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as RunReport['quantize'];
    expect(s.output).toBe(out);
    expect(s.calibration).toMatchObject({ method: 'minmax', samples: 8, data: path.join(tmp, 'data/calib.npy') });
  });

  it('refuses an output that is the input model\'s external data file', async () => {
    const dir = path.join(tmp, 'external');
    fs.mkdirSync(dir, { recursive: true });
    const { loadModel } = await import('../src/onnx/load.js');
    const { saveModel } = await import('../src/onnx/save.js');
    await saveModel(loadModel(path.join(tmp, 'models/m.onnx')), path.join(dir, 'ext.onnx'), { externalData: { location: 'ext.weights' } });
    const before = fs.readFileSync(path.join(dir, 'ext.weights'));
    const r = await runCli(['quantize', 'ext.onnx', '-o', 'ext.weights', '--calib', path.join(tmp, 'data/calib.npy')], { cwd: dir });
    expect(r.code).toBe(2);
    expect(errLines(r)).toEqual([expect.stringMatching(/^qdeploy: refusing to write ext\.weights: it is the input ext\.weights; choose another output path$/)]);
    expect(fs.readFileSync(path.join(dir, 'ext.weights')).equals(before)).toBe(true);
    // An external-data model quantizes fine to another path.
    const ok = await runCli(['quantize', 'ext.onnx', '-o', 'ext.int8.onnx', '--calib', path.join(tmp, 'data/calib.npy'), '--limit', '8'], { cwd: dir });
    expect(ok.code).toBe(0);
  });

  it('a build step with a backend that has no builder exits 2 after saving the model', async () => {
    write('configs/build/fake-backend.mjs', `export default { name: 'fake', register(ctx) { ctx.registerBackend({ name: 'fake', patterns: [] }); } };\n`);
    write(
      'configs/build/qdeploy.config.json',
      JSON.stringify({ model: '../../models/m.onnx', output: '../../out/build.onnx', backend: './fake-backend.mjs', calibration: { data: '../../data/calib.npy' }, build: { output: 'm.engine' } }),
    );
    const r = await runCli(['run'], { cwd: path.join(tmp, 'configs/build') });
    expect(r.code).toBe(2);
    expect(errLines(r)).toEqual(['qdeploy: backend fake has no builder']);
    expect(fs.existsSync(path.join(tmp, 'out/build.onnx'))).toBe(true);
    const skip = await runCli(['run', '--no-build'], { cwd: path.join(tmp, 'configs/build') });
    expect(skip.code).toBe(0);
  });
});
