// loadPlugin in-process: resolution from a folder outside the repository (exports maps,
// subpaths, CommonJS, local files, TypeScript), the error for each way a plugin can be
// missing or broken, backends by shortcut, and the calibrators loaded on demand.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registeredCalibrators, resolveCalibratorFactory } from '../src/plugins/container.js';
import {
  PluginError,
  ensureCalibrator,
  isPathSpec,
  loadBackend,
  loadPlugin,
  parsePackageSpec,
  resolveExports,
  resolvePlugin,
} from '../src/plugins/load.js';
import { makeTmp, maxAbsCalibratorPlugin, requireBuilt, writePluginPackage } from './fixtures/cli/helpers.js';

let project: string;
beforeAll(() => {
  requireBuilt();
  project = makeTmp('plugins');
});
afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

async function pluginErrorOf(p: Promise<unknown>): Promise<PluginError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(PluginError);
    return err as PluginError;
  }
  throw new Error('expected a PluginError');
}

describe('resolution helpers', () => {
  it('tells paths from package names', () => {
    for (const p of ['./a.mjs', '../a', '/abs/p.js', '.', 'file:///x/y.mjs']) expect(isPathSpec(p)).toBe(true);
    for (const p of ['pkg', '@scope/pkg', 'pkg/sub', 'chart.js']) expect(isPathSpec(p)).toBe(false);
    expect(parsePackageSpec('@scope/pkg/sub/x')).toEqual({ name: '@scope/pkg', subpath: './sub/x' });
    expect(parsePackageSpec('pkg')).toEqual({ name: 'pkg', subpath: '.' });
    expect(parsePackageSpec('not a name')).toBeNull();
    expect(parsePackageSpec('@scope')).toBeNull();
  });

  it('resolves exports maps with the import/node/default conditions', () => {
    expect(resolveExports('./i.js', '.')).toBe('./i.js');
    expect(resolveExports({ import: './m.mjs', require: './c.cjs' }, '.')).toBe('./m.mjs');
    expect(resolveExports({ '.': { types: './d.ts', source: './src/i.ts', import: './dist/i.js' } }, '.')).toBe('./dist/i.js');
    expect(resolveExports({ '.': { require: './c.cjs' } }, '.')).toBeNull();
    expect(resolveExports({ '.': './i.js', './plugins/*': { default: './lib/*.mjs' } }, './plugins/x')).toBe('./lib/x.mjs');
    expect(resolveExports({ '.': [{ node: { import: './n.mjs' } }, './f.js'] }, '.')).toBe('./n.mjs');
    expect(resolveExports({ './a': null }, './a')).toBeNull();
  });
});

describe('loadPlugin', () => {
  it('loads an ESM package with an exports map from the given folder and registers its calibrator', async () => {
    writePluginPackage(project, 'my-calib-plugin', maxAbsCalibratorPlugin('my-calib'));
    const p = await loadPlugin('my-calib-plugin', { from: project });
    expect(p).toMatchObject({ spec: 'my-calib-plugin', name: 'my-calib-plugin', calibrators: ['my-calib'], backends: [] });
    expect(p.file).toBe(path.join(fs.realpathSync(project), 'node_modules/my-calib-plugin/index.mjs'));
    expect(registeredCalibrators()).toContain('my-calib');
    const cal = resolveCalibratorFactory('my-calib')();
    cal.collect(new Float32Array([1, -3, 2]));
    expect(cal.compute().amax).toBe(3);
    // Loading it again (also from a subfolder) does not register twice.
    const sub = path.join(project, 'configs/deep');
    fs.mkdirSync(sub, { recursive: true });
    expect(await loadPlugin('my-calib-plugin', { from: sub })).toBe(p);
  });

  it('loads scoped packages, subpath exports and CommonJS packages', async () => {
    const scoped = writePluginPackage(project, '@acme/qdeploy-extra', `export default { name: '@acme/qdeploy-extra', register() {} };\n`, {
      exports: { '.': { import: './index.mjs' }, './calibrators/*': './calibrators/*.mjs' },
    });
    fs.mkdirSync(path.join(scoped, 'calibrators'));
    fs.writeFileSync(path.join(scoped, 'calibrators/fancy.mjs'), maxAbsCalibratorPlugin('acme-fancy', '@acme/fancy'));
    expect((await loadPlugin('@acme/qdeploy-extra/calibrators/fancy', { from: project })).calibrators).toEqual(['acme-fancy']);

    const cjsDir = path.join(project, 'node_modules/cjs-plugin');
    fs.mkdirSync(cjsDir, { recursive: true });
    fs.writeFileSync(path.join(cjsDir, 'package.json'), JSON.stringify({ name: 'cjs-plugin', main: 'lib/main' }));
    fs.mkdirSync(path.join(cjsDir, 'lib'));
    fs.writeFileSync(
      path.join(cjsDir, 'lib/main.js'),
      `module.exports = function register(ctx) { ctx.registerCalibrator('cjs-calib', () => ({ method: 'cjs-calib', collect() {}, compute() { return { amax: 1, min: -1, max: 1 }; }, state() { return { method: 'cjs-calib', version: 1 }; }, merge() {} })); };\n`,
    );
    const cjs = await loadPlugin('cjs-plugin', { from: project });
    expect(cjs.calibrators).toEqual(['cjs-calib']);
    expect(cjs.name).toBe('cjs-plugin');
  });

  it('loads local files relative to the folder (bare register function, TypeScript through jiti)', async () => {
    fs.mkdirSync(path.join(project, 'local'), { recursive: true });
    fs.writeFileSync(path.join(project, 'local/fn.mjs'), `export default function (ctx) { ctx.registerCalibrator('local-fn', () => null); }\n`);
    expect((await loadPlugin('./local/fn.mjs', { from: project })).calibrators).toEqual(['local-fn']);
    fs.writeFileSync(
      path.join(project, 'local/typed.ts'),
      `import type { QdeployPlugin, PluginContext } from '@qdeploy/core';
const plugin: QdeployPlugin = { name: 'typed', register(ctx: PluginContext): void { ctx.registerCalibrator('typed-calib', () => null as never); } };
export default plugin;
`,
    );
    const typed = await loadPlugin('./local/typed', { from: project });
    expect(typed).toMatchObject({ name: 'typed', calibrators: ['typed-calib'] });
    expect(typed.file).toBe(path.join(project, 'local/typed.ts'));
  });

  it('a missing package: the install hint, naming the folder it was resolved from', async () => {
    const err = await pluginErrorOf(loadPlugin('qdeploy-plugin-that-does-not-exist', { from: project }));
    expect(err.kind).toBe('not-found');
    expect(err.message).toBe(`plugin "qdeploy-plugin-that-does-not-exist" not found from ${project}: run \`npm install qdeploy-plugin-that-does-not-exist\``);
    const scoped = await pluginErrorOf(loadPlugin('@nope/missing/sub', { from: project }));
    expect(scoped.message).toMatch(/run `npm install @nope\/missing`$/);
    const file = await pluginErrorOf(loadPlugin('./not/here.mjs', { from: project }));
    expect(file.kind).toBe('not-found');
    expect(file.message).toBe(`plugin "./not/here.mjs" not found: ${path.join(project, 'not/here.mjs')} does not exist`);
    expect((await pluginErrorOf(loadPlugin('Not A Name!', { from: project }))).message).toMatch(/neither an npm package name nor a path/);
  });

  it('a broken package: what is wrong, naming the package', async () => {
    const cases: [string, string, RegExp][] = [
      ['throws-on-import', `throw new Error('cannot initialise the GPU');\n`, /^plugin "throws-on-import" failed to load \(.*index\.mjs\): cannot initialise the GPU$/],
      ['no-default', `export const register = () => {};\n`, /^plugin "no-default" \(.*\) has no default export: export default \{ name, register\(ctx\) \} or a register\(ctx\) function$/],
      ['wrong-shape', `export default 42;\n`, /^plugin "wrong-shape" \(.*\): its default export is a number \(42\); expected \{ name, register\(ctx\) \} or a register\(ctx\) function$/],
      ['wrong-object', `export default { name: 'x', setup() {} };\n`, /its default export is an object with keys name, setup; expected/],
      ['register-throws', `export default { name: 'rt', register() { throw new Error('license check failed'); } };\n`, /^plugin "register-throws" failed to register: license check failed$/],
      ['syntax-error', `export default {\n`, /^plugin "syntax-error" failed to load \(.*\): /],
    ];
    for (const [name, source, message] of cases) {
      writePluginPackage(project, name, source);
      const err = await pluginErrorOf(loadPlugin(name, { from: project }));
      expect(err.kind, name).toBe('broken');
      expect(err.spec).toBe(name);
      expect(err.message, name).toMatch(message);
    }
    writePluginPackage(project, 'require-only', '', { exports: { '.': { require: './index.cjs' } } });
    expect((await pluginErrorOf(loadPlugin('require-only', { from: project }))).message).toMatch(
      /^plugin "require-only": the "exports" of .*package\.json have no entry for "\." under the import\/node\/default conditions$/,
    );
    writePluginPackage(project, 'not-built', '', { exports: { '.': { import: './dist/index.js' } } });
    expect((await pluginErrorOf(loadPlugin('not-built', { from: project }))).message).toMatch(/^plugin "not-built": its entry .*dist\/index\.js does not exist \(is the package built/);
  });
});

describe('loadBackend and ensureCalibrator', () => {
  it('"tensorrt" is @qdeploy/backend-tensorrt, found beside core when the folder does not have it', async () => {
    expect(resolvePlugin('@qdeploy/backend-tensorrt', { from: project })).toMatch(/backend-tensorrt[/\\]dist[/\\]index\.js$/);
    expect(() => resolvePlugin('@qdeploy/backend-tensorrt', { from: project, fallbackToCore: false })).toThrow(/not found from/);
    const b = await loadBackend('tensorrt', { from: project });
    expect(b.name).toBe('tensorrt');
    expect(b.patterns.length).toBeGreaterThan(5);
    // Once registered, the name resolves directly.
    expect(await loadBackend('tensorrt')).toBe(b);
  });

  it('a backend package (or file) is used by the backend it registers', async () => {
    writePluginPackage(project, 'acme-backend', `export default { name: 'acme-backend', register(ctx) { ctx.registerBackend({ name: 'acme', patterns: [] }); } };\n`);
    expect((await loadBackend('acme-backend', { from: project })).name).toBe('acme');
    writePluginPackage(project, 'two-backends', `export default (ctx) => { ctx.registerBackend({ name: 'b1', patterns: [] }); ctx.registerBackend({ name: 'b2', patterns: [] }); };\n`);
    expect((await pluginErrorOf(loadBackend('two-backends', { from: project }))).message).toMatch(/registers several backends \(b1, b2\)/);
    writePluginPackage(project, 'no-backend', `export default (ctx) => { ctx.registerCalibrator('nb', () => null); };\n`);
    expect((await pluginErrorOf(loadBackend('no-backend', { from: project }))).message).toMatch(/^plugin "no-backend" registers no backend \(it registered calibrators nb\)$/);
    const missing = await pluginErrorOf(loadBackend('qdeploy-backend-nowhere', { from: project }));
    expect(missing.message).toMatch(/^unknown backend "qdeploy-backend-nowhere" \(installed: .*reference, tensorrt\): no package qdeploy-backend-nowhere found from .*; run `npm install qdeploy-backend-nowhere`$/);
  });

  it('standard methods load @qdeploy/calibrators on demand; unknown ones are an error', async () => {
    await ensureCalibrator('percentile', { from: project });
    expect(registeredCalibrators()).toEqual(expect.arrayContaining(['entropy', 'minmax', 'mse', 'percentile']));
    const err = await pluginErrorOf(ensureCalibrator('kl-magic', { from: project }));
    expect(err.kind).toBe('not-registered');
    expect(err.message).toMatch(/^unknown calibration method "kl-magic" \(registered: .*entropy.*\)/);
  });
});
