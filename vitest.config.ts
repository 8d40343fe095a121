import { defineConfig } from 'vitest/config';

// Tests import workspace packages from source (the "source" export condition), so a
// test run never depends on a stale dist/. The CLI tests spawn the built bin instead.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
