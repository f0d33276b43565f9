import { defineConfig } from 'vitest/config';

// One vitest run over every workspace. The `source` export condition makes workspace packages
// resolve to their TypeScript sources, so tests never run against a stale build.
export default defineConfig({
  resolve: { conditions: ['source'] },
  test: {
    // apps/*/test/** holds integration tests: vitest.integration.config.ts (npm run test:integration).
    // scripts/drills: only the drills' expectation logic (the drills themselves: npm run drill:*).
    // docker: the deployment files checked against the apps' configuration (docs/deploy.md).
    include: [
      'packages/*/src/**/*.test.ts',
      'apps/*/src/**/*.test.ts',
      'scripts/drills/**/*.test.ts',
      'docker/**/*.test.ts',
    ],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
