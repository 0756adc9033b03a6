/**
 * After each test file: what a file may change for the whole process undone, since the
 * files of a worker share one (`isolate: false`). Servers, runtimes and client mocks are
 * each file's own to close (`test/helpers/aws-mocks.ts` restores the mocks).
 */
import { afterAll, vi } from 'vitest';

afterAll(() => {
  vi.unstubAllEnvs();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});
