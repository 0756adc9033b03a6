import { mockClient } from 'aws-sdk-client-mock';
import { afterAll } from 'vitest';

/**
 * aws-sdk-client-mock's `mockClient`, restored after the test file: the files of a worker
 * share one process (`isolate: false`), and a client class left mocked would answer the
 * next file's real calls.
 */
export const mockAwsClient: typeof mockClient = (client, options) => {
  const mock = mockClient(client, options);
  afterAll(() => mock.restore());
  return mock;
};
