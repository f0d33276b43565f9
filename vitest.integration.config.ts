import { defineConfig } from 'vitest/config';

// Integration tests against real services (Orthanc from Debian, databases). They start servers
// that must not be reachable from outside, so run them inside a private network namespace:
//   npm run test:integration
export default defineConfig({
  resolve: { conditions: ['source'] },
  test: {
    include: ['apps/*/test/**/*.test.ts'],
    testTimeout: 120_000,
    // expect.poll waits on a condition (a page, a database row), never a fixed clock: give it time
    // on a loaded 2-core machine.
    expect: { poll: { timeout: 30_000, interval: 250 } },
    hookTimeout: 120_000,
    pool: 'forks',
    // Each file starts its own Orthanc; two at a time is plenty on a small machine.
    maxWorkers: 2,
  },
});
