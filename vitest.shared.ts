import type { ViteUserConfig } from 'vitest/config';

/**
 * What every test command shares (`npm test` and the system, chaos and package runs): the
 * package's own entries resolve to its TypeScript sources (the `source` export condition),
 * and test files run in child processes (the CDK's bundling spawns esbuild with the
 * process's stdio, which a worker thread lacks).
 */
export const shared = {
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: { pool: 'forks' },
} satisfies ViteUserConfig;
