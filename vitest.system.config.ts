import { defineConfig } from 'vitest/config';

/**
 * The system tests (`npm run test:system`), kept out of `npm test` for their length: the
 * commands as a user runs them (their own processes, `npx`, Debian's AWS CLI syncing a
 * library), and the runtime's admission (caps, throttles, rate limits) and function
 * environments under concurrent load. CI runs them after `npm test`.
 */
export default defineConfig({
  // The package's own entries resolve to its TypeScript sources here (the `source` export condition).
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['test/system/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // One file at a time, each in a process of its own: they time real processes and loads.
    pool: 'forks',
    maxWorkers: 1,
    env: {
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
    },
  },
});
