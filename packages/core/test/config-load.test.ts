import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONFIG_FILE_NAMES,
  ConfigError,
  defineConfig,
  findConfigFile,
  loadConfig,
  validateConfig,
  type QdeployConfig,
} from '../src/config/index.js';
import { makeTmp, writeUnder } from './fixtures/cli/helpers.js';

let tmp: string;
beforeAll(() => {
  tmp = makeTmp('config');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const write = (rel: string, text: string): string => writeUnder(tmp, rel, text);

async function configErrorOf(file: string): Promise<ConfigError> {
  try {
    await loadConfig(file);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected ${file} to be rejected`);
}

const minimal = { model: 'm.onnx', output: 'out/m.int8.onnx', backend: 'tensorrt' };

describe('loadConfig: formats', () => {
  it('reads JSON and resolves paths relative to the config file', async () => {
    const file = write(
      'json/sub/qdeploy.config.json',
      JSON.stringify({
        ...minimal,
        model: '../models/m.onnx',
        plugins: ['./plugins/p.mjs', 'some-package', '@scope/pkg'],
        calibration: { data: 'calib.npy', method: 'percentile', options: { percentile: 99.99 }, batchSize: 16, limit: 64, histogramStride: 1 },
        evaluate: { data: 'x.npy', labels: '/abs/y.npy' },
        build: { output: 'model.engine', precision: 'best', shapes: { input: [1, 1, 28, 28] } },
      }),
    );
    const c = await loadConfig(file);
    const dir = path.join(tmp, 'json/sub');
    expect(c.file).toBe(file);
    expect(c.dir).toBe(dir);
    expect(c.model).toBe(path.join(tmp, 'json/models/m.onnx'));
    expect(c.output).toBe(path.join(dir, 'out/m.int8.onnx'));
    expect(c.backend).toBe('tensorrt');
    expect(c.plugins).toEqual([path.join(dir, 'plugins/p.mjs'), 'some-package', '@scope/pkg']);
    expect(c.calibration).toEqual({ data: path.join(dir, 'calib.npy'), method: 'percentile', options: { percentile: 99.99 }, batchSize: 16, limit: 64, histogramStride: 1 });
    expect(c.evaluate).toEqual({ data: path.join(dir, 'x.npy'), labels: '/abs/y.npy' });
    // Backend-specific build options pass through; the output path is resolved.
    expect(c.build).toEqual({ output: path.join(dir, 'model.engine'), precision: 'best', shapes: { input: [1, 1, 28, 28] } });
  });

  it('reads YAML (.yaml and .yml)', async () => {
    const yaml = `# a comment
model: m.onnx
output: out.onnx
backend: ./my-backend.mjs
quant:
  activation: { nBits: 8 }
  weight:
    perChannel: false
  skipWeightQuantFor: [LayerNormalization, Gemm]
calibration:
  data: images/
  normalize: { scale: 0.00392156862745098, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }
  image: { resize: 256, crop: [224, 224], channels: 3 }
`;
    for (const name of ['a/qdeploy.config.yaml', 'b/qdeploy.config.yml']) {
      const c = await loadConfig(write(name, yaml));
      expect(c.backend).toBe(path.join(tmp, path.dirname(name), 'my-backend.mjs'));
      expect(c.quant).toEqual({ activation: { nBits: 8 }, weight: { perChannel: false }, skipWeightQuantFor: ['LayerNormalization', 'Gemm'] });
      expect(c.calibration?.data).toBe(path.join(tmp, path.dirname(name), 'images'));
      expect(c.calibration?.image).toEqual({ resize: 256, crop: [224, 224], channels: 3 });
    }
  });

  it('reads a TS module exporting defineConfig(...) (with @qdeploy/core imported), and a function', async () => {
    const ts = write(
      'ts/qdeploy.config.ts',
      `import { defineConfig } from '@qdeploy/core';
const batch: number = 8;
export default defineConfig({ model: 'm.onnx', output: 'o.onnx', backend: 'tensorrt', calibration: { data: 'c.npy', batchSize: batch } });
`,
    );
    const c = await loadConfig(ts);
    expect(c.calibration).toEqual({ data: path.join(tmp, 'ts/c.npy'), batchSize: 8 });

    const mjs = write('mjs/qdeploy.config.mjs', `export default async () => ({ model: 'm.onnx', output: 'o.onnx', backend: 'reference' });\n`);
    expect((await loadConfig(mjs)).backend).toBe('reference');

    const cjs = write('cjs/qdeploy.config.cjs', `module.exports = { model: 'm.onnx', output: 'o.onnx', backend: 'tensorrt' };\n`);
    expect((await loadConfig(cjs)).model).toBe(path.join(tmp, 'cjs/m.onnx'));
  });

  it('defineConfig is the identity (typing only)', () => {
    const c: QdeployConfig = { ...minimal };
    expect(defineConfig(c)).toBe(c);
  });

  it('findConfigFile takes the first of ts, mjs, js, yaml, yml, json', () => {
    const dir = path.join(tmp, 'find');
    fs.mkdirSync(dir, { recursive: true });
    expect(findConfigFile(dir)).toBeNull();
    write('find/qdeploy.config.json', '{}');
    expect(findConfigFile(dir)).toBe(path.join(dir, 'qdeploy.config.json'));
    write('find/qdeploy.config.yaml', '');
    expect(findConfigFile(dir)).toBe(path.join(dir, 'qdeploy.config.yaml'));
    write('find/qdeploy.config.ts', '');
    expect(findConfigFile(dir)).toBe(path.join(dir, 'qdeploy.config.ts'));
    expect(CONFIG_FILE_NAMES).toEqual(['qdeploy.config.ts', 'qdeploy.config.mjs', 'qdeploy.config.js', 'qdeploy.config.yaml', 'qdeploy.config.yml', 'qdeploy.config.json']);
  });
});

describe('loadConfig: errors name the file and the path', () => {
  it('wrong type: file, dotted path, what was expected, what was given', async () => {
    const file = write('err1/qdeploy.config.yaml', `model: m.onnx\noutput: o.onnx\nbackend: tensorrt\ncalibration:\n  data: c.npy\n  batchSize: abc\n`);
    process.chdir(path.join(tmp, 'err1'));
    const err = await configErrorOf(file);
    expect(err.issues).toEqual(['qdeploy.config.yaml: calibration.batchSize: expected a positive integer, got "abc"']);
    expect(err.message).toBe(err.issues[0]);
  });

  it('unknown keys are rejected, with a suggestion when one is close', async () => {
    const file = write('err2/qdeploy.config.json', JSON.stringify({ ...minimal, calibration: { data: 'c.npy', batchsize: 3 }, extra: true }));
    const err = await configErrorOf(file);
    expect(err.issues).toHaveLength(2);
    expect(err.issues[0]).toMatch(/qdeploy\.config\.json: calibration: unknown key "batchsize" \(did you mean "batchSize"\?\)$/);
    expect(err.issues[1]).toMatch(/qdeploy\.config\.json: unknown key "extra" \(known keys: \$schema, model, output, backend, plugins, backendOptions, quant, calibration, build, evaluate, bench, tune\)$/);
  });

  it('quant.exclude, quant.overrides and tune are checked like the rest', async () => {
    const file = write('err-accuracy/qdeploy.config.json', JSON.stringify({ ...minimal, quant: { exclude: { opTypes: [3], nodez: [] }, overrides: { tensors: { x: { amax: -1 } } } }, tune: { data: 'x.npy', metric: 'f1' } }));
    const rest = (await configErrorOf(file)).issues.map((l) => l.replace(/^.*qdeploy\.config\.json: /, ''));
    expect(rest).toEqual(
      expect.arrayContaining([
        'quant.exclude.opTypes[0]: expected an op type, got 3',
        expect.stringMatching(/^quant\.exclude: unknown key "nodez" \(did you mean "nodes"\?\)$/),
        'quant.overrides.tensors.x.amax: expected a positive number, got -1',
        'tune.metric: expected one of "top1", "agreement", "sqnr", got "f1"',
      ]),
    );
  });

  it('one line per issue: missing fields, array items, enums, unions, nested objects', async () => {
    const file = write(
      'err3/qdeploy.config.json',
      JSON.stringify({
        output: 'o.onnx',
        backend: '',
        plugins: ['ok', 3],
        quant: { weight: { nBits: 9, perChannel: 'yes' } },
        calibration: { data: 'c.npy', kind: 'csv', limit: 0, histogramStride: 1.5, image: { crop: [224, 'x'], channels: 2 } },
        evaluate: { data: 'x.npy' },
      }),
    );
    const err = await configErrorOf(file);
    const rest = err.issues.map((l) => l.replace(/^.*qdeploy\.config\.json: /, ''));
    expect(rest).toEqual(
      expect.arrayContaining([
        'model: expected a path to the FP32 ONNX model, got nothing',
        'backend: expected a backend name ("tensorrt", "reference"), a package name or a path, got ""',
        'plugins[1]: expected a package name or a path, got 3',
        'quant.weight.nBits: expected an integer from 2 to 8, got 9',
        'quant.weight.perChannel: expected true or false, got "yes"',
        'calibration.kind: expected one of "npy", "npz", "images", "module", got "csv"',
        'calibration.limit: expected a positive integer, got 0',
        'calibration.histogramStride: expected a positive integer, got 1.5',
        'calibration.image.crop: expected a positive integer or [height, width], got [224,"x"]',
        'calibration.image.channels: expected 1 (grayscale) or 3 (RGB), got 2',
        'evaluate.labels: expected a path to evaluation labels (.npy), got nothing',
      ]),
    );
    expect(rest).toHaveLength(11);
    for (const line of err.issues) expect(line).not.toContain('\n');
  });

  it('syntax errors: JSON with line and column, YAML with its position', async () => {
    const json = await configErrorOf(write('syn/a.json', '{\n  "model": "m.onnx",\n  "output": 3,\n}\n'));
    expect(json.issues).toHaveLength(1);
    expect(json.issues[0]).toMatch(/a\.json: invalid JSON: .*line 4, column 1/);

    const yaml = await configErrorOf(write('syn/b.yaml', 'model: m.onnx\noutput: [unclosed\n'));
    expect(yaml.issues[0]).toMatch(/b\.yaml: invalid YAML: .*line \d+, column \d+/);

    const dup = await configErrorOf(write('syn/c.yaml', 'model: a.onnx\nmodel: b.onnx\n'));
    expect(dup.issues[0]).toMatch(/c\.yaml: invalid YAML: Map keys must be unique/);
  });

  it('empty files, wrong top-level types, missing files, unknown formats', async () => {
    expect((await configErrorOf(write('e/empty.json', ''))).issues[0]).toMatch(/empty\.json: the file is empty/);
    expect((await configErrorOf(write('e/empty.yaml', '# nothing\n'))).issues[0]).toMatch(/empty\.yaml: the file is empty/);
    expect((await configErrorOf(write('e/list.yaml', '- a\n- b\n'))).issues[0]).toMatch(/list\.yaml: expected an object \{ model, output, backend, \.\.\. \}, got \["a","b"\]/);
    expect((await configErrorOf(path.join(tmp, 'e/nope.json'))).issues[0]).toMatch(/nope\.json: no such config file/);
    expect((await configErrorOf(write('e/c.toml', 'x = 1'))).issues[0]).toMatch(/c\.toml: unsupported config format "\.toml"/);
  });

  it('JS/TS modules that throw, do not parse or export nothing', async () => {
    expect((await configErrorOf(write('m/throws.mjs', 'throw new Error("boom at load");\n'))).issues[0]).toMatch(/throws\.mjs: cannot load: .*boom at load/);
    expect((await configErrorOf(write('m/syntax.ts', 'export default { model: \n'))).issues[0]).toMatch(/syntax\.ts: cannot load: /);
    expect((await configErrorOf(write('m/fn.mjs', 'export default () => { throw new Error("nope"); };\n'))).issues[0]).toMatch(/fn\.mjs: the exported config function threw: nope/);
    expect((await configErrorOf(write('m/none.mjs', 'export const x = 1;\n'))).issues[0]).toMatch(/none\.mjs: (no default export|expected an object)/);
    const bad = await configErrorOf(write('m/bad.ts', `export default { model: 'm.onnx', output: 'o.onnx', backend: 'tensorrt', bench: { iterations: -1 } };\n`));
    expect(bad.issues).toEqual([expect.stringMatching(/bad\.ts: bench\.iterations: expected a positive integer, got -1$/)]);
  });

  it('validateConfig checks an object in memory', () => {
    expect(validateConfig({ ...minimal }, 'inline')).toEqual(minimal);
    expect(() => validateConfig({ ...minimal, calibration: { data: 'x', method: 3 } }, 'inline')).toThrow(
      /^inline: calibration\.method: expected a calibration method name/,
    );
  });
});
