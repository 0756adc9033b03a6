import { defineConfig, mergeConfig } from 'vitest/config';
import { shared } from './vitest.shared.ts';

/** The chaos run alone (`npm run test:chaos`): long, and kept out of `npm test`. */
export default mergeConfig(
  shared,
  defineConfig({
    test: {
      include: ['test/chaos/**/*.test.ts'],
      testTimeout: 60_000,
      hookTimeout: 20 * 60_000,
      env: { POWERTOOLS_METRICS_DISABLED: 'true' },
    },
  }),
);
