// The qdeploy config file: types, schema, loading.
export type {
  BenchSettings,
  BuildSettings,
  CalibrationSettings,
  EvaluateSettings,
  ImageSettings,
  NormalizeSettings,
  QdeployConfig,
  QuantSettings,
  ResolvedConfig,
  TensorQuantSettings,
} from './types.js';
export { ConfigError, isConfigError } from './errors.js';
export { configSchema } from './schema.js';
export { CONFIG_SCHEMA_PATH, configJsonSchema, configJsonSchemaText } from './json-schema.js';
export {
  CONFIG_FILE_NAMES,
  defineConfig,
  findConfigFile,
  formatIssues,
  loadConfig,
  readConfigValue,
  resolveConfigPaths,
  validateConfig,
} from './load.js';
