/**
 * Before each test file: the unit tier opens no socket. After it: what a file may change
 * for the whole process undone, since the files of a worker share one (`isolate: false`).
 * Servers, runtimes and client mocks are each file's own to close (`test/helpers/aws-mocks.ts`
 * restores the mocks).
 */
import net from 'node:net';
import { afterAll, expect, vi } from 'vitest';

const listen = Object.getOwnPropertyDescriptor(net.Server.prototype, 'listen');
const connect = Object.getOwnPropertyDescriptor(net.Socket.prototype, 'connect');

// A unit test that needs a server or a connection is an end-to-end test: `test/e2e/`.
if (/[/\\]test[/\\]unit[/\\]/.test(expect.getState().testPath ?? '')) {
  const refuse = (what: string) =>
    function (): never {
      throw new Error(`a unit test ${what}: tests that open sockets belong in test/e2e/`);
    };
  Object.defineProperty(net.Server.prototype, 'listen', { ...listen, value: refuse('listens on a socket') });
  Object.defineProperty(net.Socket.prototype, 'connect', { ...connect, value: refuse('connects a socket') });
}

afterAll(() => {
  if (listen) Object.defineProperty(net.Server.prototype, 'listen', listen);
  if (connect) Object.defineProperty(net.Socket.prototype, 'connect', connect);
  vi.unstubAllEnvs();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});
