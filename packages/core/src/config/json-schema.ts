/**
 * The JSON Schema of qdeploy.config.json, generated from the zod schema (one source, so
 * the two cannot drift). The package ships it as `@qdeploy/core/schema.json`; editors
 * complete and check a config that names it in `$schema`. `npm run gen:schema` rewrites
 * the shipped file; a test fails when it is stale.
 */
import { z } from 'zod';
import { configSchema } from './schema.js';

/** Where the schema is published in the package (for `$schema`). */
export const CONFIG_SCHEMA_PATH = './node_modules/@qdeploy/core/schema/qdeploy.config.schema.json';

export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
  return {
    $schema: schema.$schema,
    title: 'qdeploy config',
    description: 'qdeploy.config.json: model, output, backend, plugins, quantization, calibration, build, evaluate and bench settings',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
  };
}

/** The file's text: stable key order, two-space indent, trailing newline. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
