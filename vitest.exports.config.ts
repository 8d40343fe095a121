import { defineConfig } from 'vitest/config';
import { common, testDefaults } from './vitest.config.js';

// `npm run test:exports`: only the *.exports.test.ts files, against the real PyTorch
// exports and full data splits in ../shared/fixtures (or $QDEPLOY_FIXTURES). A missing
// folder stops the run before any test (scripts/require-shared-fixtures.ts); a missing
// file fails its test. Nothing is skipped.
export default defineConfig({
  ...common,
  test: {
    ...testDefaults,
    include: ['packages/*/test/**/*.exports.test.ts', 'examples/**/*.exports.test.ts'],
    globalSetup: ['scripts/require-shared-fixtures.ts'],
  },
});
