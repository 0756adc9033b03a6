import { defineConfig } from 'vitest/config';

/**
 * The packed construct in a fresh CDK app (`npm run test:package`): minutes of `npm install`,
 * so CI runs it after `npm test`, not inside it.
 */
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['test/package/**/*.test.ts'],
    testTimeout: 15 * 60_000,
    hookTimeout: 15 * 60_000,
    pool: 'forks',
  },
});
