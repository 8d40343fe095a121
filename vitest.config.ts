import { defineConfig } from 'vitest/config';

// Tests import workspace packages from source (the "source" export condition), so a
// test run never depends on a stale dist/. The CLI tests spawn the built bin instead.
export const common = {
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
};

export const testDefaults = {
  exclude: ['**/node_modules/**', '**/dist/**'],
  testTimeout: 120_000,
  hookTimeout: 120_000,
  pool: 'forks' as const,
};

// `npm test`: everything in the repository, nothing from ../shared. Tests against the real
// PyTorch exports are named *.exports.test.ts and run under `npm run test:exports`
// (vitest.exports.config.ts). sharedFixture() refuses here, so a test that needs the
// shared fixtures fails on every machine, not only on a clone without them.
export default defineConfig({
  ...common,
  test: {
    ...testDefaults,
    include: ['packages/*/test/**/*.test.ts', 'examples/**/*.test.ts'],
    exclude: [...testDefaults.exclude, '**/*.exports.test.ts'],
    env: { QDEPLOY_SHARED_FIXTURES: 'off' },
  },
});
