// A third-party plugin installed in a project outside the repository, selected by the
// project's config file, works end to end through the CLI; a missing or broken plugin
// is a one-line error with exit 2 that names the package (and how to install it).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../src/cli/pipeline/index.js';
import { CALIB_32, MOBILENET_BN, errLines, hasStackTrace, makeTmp, maxAbsCalibratorPlugin, requireBuilt, runCli, writePluginPackage } from './fixtures/cli/helpers.js';

let project: string;
beforeAll(() => {
  requireBuilt();
  project = makeTmp('plugin-project');
  fs.copyFileSync(MOBILENET_BN, path.join(project, 'model.onnx'));
  fs.copyFileSync(CALIB_32, path.join(project, 'calib.npy'));
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'my-project', private: true, type: 'module' }));
  writePluginPackage(project, 'qdeploy-plugin-my-calib', maxAbsCalibratorPlugin('my-calib', 'qdeploy-plugin-my-calib'));
  fs.mkdirSync(path.join(project, 'tools'));
  fs.writeFileSync(path.join(project, 'tools/local-calib.mjs'), maxAbsCalibratorPlugin('local-calib', 'local'));
});
afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

function config(name: string, extra: Record<string, unknown>): string {
  const file = path.join(project, name);
  fs.writeFileSync(file, JSON.stringify({ model: 'model.onnx', output: `out/${path.basename(name, '.json')}.onnx`, backend: 'tensorrt', ...extra }, null, 2));
  return file;
}

describe('plugins through the CLI', () => {
  it('an npm-installed calibrator plugin selected by the config file', async () => {
    config('qdeploy.config.json', { plugins: ['qdeploy-plugin-my-calib'], calibration: { data: 'calib.npy', method: 'my-calib', limit: 16 } });
    const r = await runCli(['run', '--json'], { cwd: project });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as RunReport;
    expect(report.quantize.calibration).toMatchObject({ method: 'my-calib', samples: 16 });
    expect(fs.statSync(path.join(project, 'out/qdeploy.config.onnx')).size).toBe(report.quantize.outputBytes);
  });

  it('a local plugin file, and --plugin on quantize', async () => {
    config('local.json', { plugins: ['./tools/local-calib.mjs'], calibration: { data: 'calib.npy', method: 'local-calib', limit: 8 } });
    const r = await runCli(['run', '-c', path.join(project, 'local.json')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/calibration\s+local-calib on 8 samples/);

    const q = await runCli(['quantize', 'model.onnx', '-o', 'out/q.onnx', '--calib', 'calib.npy', '--plugin', 'qdeploy-plugin-my-calib', '--calibrator', 'my-calib', '--limit', '8'], { cwd: project });
    expect(q.code).toBe(0);
    expect(q.stdout).toMatch(/calibration\s+my-calib on 8 samples/);
  });

  it('a missing plugin: exit 2 with the install hint', async () => {
    config('missing.json', { plugins: ['qdeploy-plugin-not-installed'], calibration: { data: 'calib.npy' } });
    const r = await runCli(['run', '-c', 'missing.json'], { cwd: project });
    expect(r.code).toBe(2);
    expect(errLines(r)).toEqual([`qdeploy: plugin "qdeploy-plugin-not-installed" not found from ${project}: run \`npm install qdeploy-plugin-not-installed\``]);

    config('missing-backend.json', { backend: '@acme/qdeploy-backend-npu', calibration: { data: 'calib.npy' } });
    const b = await runCli(['run', '-c', 'missing-backend.json'], { cwd: project });
    expect(b.code).toBe(2);
    // A full backend package name that is not installed: "unknown backend", what is installed, and the install line.
    expect(errLines(b)).toHaveLength(1);
    expect(errLines(b)[0]).toMatch(/^qdeploy: unknown backend "@acme\/qdeploy-backend-npu" \(installed: [^)]*tensorrt[^)]*\): no package @acme\/qdeploy-backend-npu found from /);
    expect(errLines(b)[0]).toContain(`${project}; run \`npm install @acme/qdeploy-backend-npu\``);

    config('missing-method.json', { calibration: { data: 'calib.npy', method: 'my-calib' } });
    const m = await runCli(['run', '-c', 'missing-method.json'], { cwd: project });
    expect(m.code).toBe(2);
    expect(errLines(m)).toEqual([expect.stringMatching(/^qdeploy: unknown calibration method "my-calib" \(.*a plugin listed in "plugins" can register more\)$/)]);
  });

  it('a broken plugin: exit 2 naming the package and what is wrong', async () => {
    writePluginPackage(project, 'qdeploy-plugin-broken', `import 'a-dependency-that-is-not-installed';\nexport default { name: 'x', register() {} };\n`);
    config('broken.json', { plugins: ['qdeploy-plugin-broken'], calibration: { data: 'calib.npy' } });
    const r = await runCli(['run', '-c', 'broken.json'], { cwd: project });
    expect(r.code).toBe(2);
    expect(errLines(r)).toEqual([expect.stringMatching(/^qdeploy: plugin "qdeploy-plugin-broken" failed to load \(.*index\.mjs\): Cannot find package 'a-dependency-that-is-not-installed'/)]);
    expect(hasStackTrace(r.stderr)).toBe(false);

    writePluginPackage(project, 'qdeploy-plugin-shape', `export default [1, 2];\n`);
    config('shape.json', { plugins: ['qdeploy-plugin-shape'], calibration: { data: 'calib.npy' } });
    const s = await runCli(['run', '-c', 'shape.json'], { cwd: project });
    expect(s.code).toBe(2);
    expect(errLines(s)).toEqual([expect.stringMatching(/^qdeploy: plugin "qdeploy-plugin-shape" \(.*\): its default export is an array; expected \{ name, register\(ctx\) \} or a register\(ctx\) function$/)]);
  });
});
