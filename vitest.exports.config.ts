import { defineConfig } from 'vitest/config';
import { common, testDefaults } from './vitest.config.js';

// `npm run test:exports`: only the *.exports.test.ts files, against the real PyTorch
// exports and full data splits in ../shared/fixtures (or $QDEPLOY_FIXTURES). A missing
// folder stops the npm script before vitest (scripts/require-shared-fixtures.mjs); a
// missing file fails its test. Nothing is skipped.
export default defineConfig({
  ...common,
  test: {
    ...testDefaults,
    include: ['packages/*/test/**/*.exports.test.ts', 'examples/**/*.exports.test.ts'],
  },
});
