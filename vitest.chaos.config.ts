import { defineConfig } from 'vitest/config';

/** The chaos run alone (`npm run test:chaos`): long, and kept out of `npm test`. */
export default defineConfig({
  // The package's own entries resolve to its TypeScript sources here (the `source` export condition).
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['test/chaos/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 20 * 60_000,
    pool: 'forks',
    env: { POWERTOOLS_METRICS_DISABLED: 'true' },
  },
});
