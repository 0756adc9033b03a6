import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The package's own entries resolve to its TypeScript sources here (the `source` export condition).
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    // The chaos run and the packed construct in a fresh CDK app are commands of their own
    // (`npm run test:chaos`, `npm run test:package`), run by CI after `npm test`.
    exclude: ['test/chaos/**', 'test/package/**', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The simulator and emulators bind loopback ports; forks keep each file's servers in its own process.
    pool: 'forks',
    // Handlers log JSON through Powertools; tests assert on behaviour, not on log noise.
    env: {
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
    },
  },
});
