// Backend names resolve ESLint-style: "foo" → qdeploy-backend-foo (or @qdeploy/backend-foo),
// "@acme/foo" → @acme/qdeploy-backend-foo, "@acme" → @acme/qdeploy-backend; a name nothing
// answers to is "unknown backend foo (installed: …)", not `npm install foo`.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendPackageCandidates, backendShortName } from '../src/plugins/naming.js';
import { isPluginError, loadBackend } from '../src/plugins/load.js';
import { makeTmp, writePluginPackage } from './fixtures/cli/helpers.js';

let project: string;
beforeAll(() => {
  project = makeTmp('naming');
});
afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

const backendPlugin = (name: string) => `export default { name: 'p-${name}', register(ctx) { ctx.registerBackend({ name: ${JSON.stringify(name)}, patterns: [] }); } };\n`;

describe('backend naming convention', () => {
  it('lists the candidate packages, most specific first, the name as written last', () => {
    expect(backendPackageCandidates('foo')).toEqual(['qdeploy-backend-foo', '@qdeploy/backend-foo', 'foo']);
    expect(backendPackageCandidates('@acme/foo')).toEqual(['@acme/qdeploy-backend-foo', '@acme/foo']);
    expect(backendPackageCandidates('@acme')).toEqual(['@acme/qdeploy-backend']);
    expect(backendPackageCandidates('qdeploy-backend-foo')).toEqual(['qdeploy-backend-foo']);
    expect(backendPackageCandidates('@qdeploy/backend-x')).toEqual(['@qdeploy/backend-x']);
    expect(backendShortName('@acme/qdeploy-backend-npu')).toBe('@acme/npu');
    expect(backendShortName('qdeploy-backend-npu')).toBe('npu');
    expect(backendShortName('@acme/qdeploy-backend')).toBe('@acme');
  });

  it('"npu" loads qdeploy-backend-npu; "@acme/dsp" loads @acme/qdeploy-backend-dsp; "@acme" loads @acme/qdeploy-backend', async () => {
    writePluginPackage(project, 'qdeploy-backend-npu', backendPlugin('npu'));
    writePluginPackage(project, '@acme/qdeploy-backend-dsp', backendPlugin('@acme/dsp'));
    writePluginPackage(project, '@acme/qdeploy-backend', backendPlugin('acme'));
    expect((await loadBackend('npu', { from: project })).name).toBe('npu');
    expect((await loadBackend('@acme/dsp', { from: project })).name).toBe('@acme/dsp');
    expect((await loadBackend('@acme', { from: project })).name).toBe('acme');
  });

  it('an unknown name says so and lists what is installed, without `npm install <name>`', async () => {
    const err = await loadBackend('fpga', { from: project }).catch((e: unknown) => e);
    expect(isPluginError(err)).toBe(true);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^unknown backend "fpga" \(installed: [^)]*\bnpu\b[^)]*\btensorrt\b[^)]*\): no package qdeploy-backend-fpga, @qdeploy\/backend-fpga or fpga found from /);
    expect(msg).toMatch(/@acme\/dsp/);
    expect(msg).not.toMatch(/npm install/);
  });
});
