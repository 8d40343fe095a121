// The shipped JSON Schema of the config file is generated from the zod schema: the
// committed file must be what the generator gives now, and it must accept and refuse
// what the zod schema accepts and refuses.
import fs from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { configJsonSchema, configJsonSchemaText, configSchema } from '../src/index.js';
import { repoRoot } from './helpers/fixtures.js';

const shipped = path.join(repoRoot(), 'packages/core/schema/qdeploy.config.schema.json');
const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot(), 'packages/core/package.json'), 'utf8')) as { exports: Record<string, unknown>; files: string[] };

describe('the config JSON Schema', () => {
  it('the committed file is up to date (npm run gen:schema rewrites it)', () => {
    expect(fs.readFileSync(shipped, 'utf8')).toBe(configJsonSchemaText());
  });

  it('is shipped in the package and exported as @qdeploy/core/schema.json', () => {
    expect(pkg.files).toContain('schema');
    expect(pkg.exports['./schema.json']).toBe('./schema/qdeploy.config.schema.json');
  });

  it('agrees with zod on the example configs and on broken ones', () => {
    const ajv = new (Ajv2020 as unknown as typeof Ajv2020.default)({ strict: false });
    const validate = ajv.compile(configJsonSchema());
    const examples = [
      JSON.parse(fs.readFileSync(path.join(repoRoot(), 'examples/fashion-mnist/qdeploy.config.json'), 'utf8')),
      YAML.parse(fs.readFileSync(path.join(repoRoot(), 'examples/custom-calibrator/qdeploy.config.yaml'), 'utf8')),
      YAML.parse(fs.readFileSync(path.join(repoRoot(), 'examples/fashion-mnist/qdeploy.reference.config.yaml'), 'utf8')),
    ];
    for (const c of examples) {
      expect(configSchema.safeParse(c).success).toBe(true);
      expect(validate(c)).toBe(true);
    }
    const broken = [
      { ...examples[0], calibraton: {} },
      { ...examples[0], calibration: { data: 'x.npy', batchSize: 'abc' } },
      { ...examples[0], quant: { weight: { nBits: 9 } } },
      { output: 'a.onnx', backend: 'tensorrt', model: '' },
    ];
    for (const c of broken) {
      expect(configSchema.safeParse(c).success).toBe(false);
      expect(validate(c)).toBe(false);
    }
  });
});
