import { defineConfig, mergeConfig } from 'vitest/config';
import { shared } from './vitest.shared.ts';

/**
 * The packed construct in a fresh CDK app (`npm run test:package`): minutes of `npm install`,
 * so CI runs it after `npm test`, not inside it.
 */
export default mergeConfig(
  shared,
  defineConfig({
    test: {
      include: ['test/package/**/*.test.ts'],
      testTimeout: 15 * 60_000,
      hookTimeout: 15 * 60_000,
    },
  }),
);
