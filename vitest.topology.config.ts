import { defineConfig } from 'vitest/config';

// The multi-host test (npm run test:topology): only inside scripts/topology/run.sh's namespaces.
export default defineConfig({
  resolve: { conditions: ['source'] },
  test: {
    include: ['scripts/topology/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 300_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
