import { defineConfig, mergeConfig } from 'vitest/config';
import { shared } from './vitest.shared.ts';

/**
 * The system tests (`npm run test:system`), kept out of `npm test` for their length: the
 * commands as a user runs them (their own processes, `npx`, Debian's AWS CLI syncing a
 * library), and the runtime's admission (caps, throttles, rate limits) and function
 * environments under concurrent load. CI runs them after `npm test`.
 */
export default mergeConfig(
  shared,
  defineConfig({
    test: {
      include: ['test/system/**/*.test.ts'],
      testTimeout: 120_000,
      hookTimeout: 60_000,
      // One file at a time: they time real processes and loads.
      maxWorkers: 1,
      env: {
        POWERTOOLS_LOG_LEVEL: 'SILENT',
        POWERTOOLS_METRICS_DISABLED: 'true',
      },
    },
  }),
);
