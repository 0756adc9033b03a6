/**
 * Runs the DynamoDB emulator in a process of its own (`startDynamoDBProcess`), so its CPU
 * work does not compete with the handlers on the runtime's event loop. The child sends
 * its endpoint once listening and closes when the parent disconnects.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startDynamoDB, type LocalDynamoDB } from './dynamodb.ts';

const CHILD_FLAG = '--videogen-dynamodb-child';
/**
 * This module's own file, run as the child: the TypeScript source through tsx in this
 * repository, or the bundle's `dynamodb-process.mjs` entry beside the chunk that holds this
 * code in the packed `videogen-ingest-local` (`local/build.ts`).
 */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const CHILD_ENTRY = fileURLToPath(
  FROM_SOURCE ? import.meta.url : new URL('./dynamodb-process.mjs', import.meta.url),
);

/** `directory`: keep the tables there (they outlive the process); in memory when absent. */
export async function startDynamoDBProcess(directory?: string): Promise<LocalDynamoDB> {
  const child = fork(CHILD_ENTRY, [CHILD_FLAG, ...(directory ? [directory] : [])], {
    // tsx resolved from here, not from the working directory: `start` runs in any folder.
    execArgv: FROM_SOURCE ? ['--import', import.meta.resolve('tsx')] : [],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.once('message', (message: { endpoint?: string }) => {
      if (message.endpoint) resolve(message.endpoint);
      else reject(new Error('the DynamoDB emulator did not start'));
    });
    child.once('exit', (code) => reject(new Error(`the DynamoDB emulator exited with ${code}`)));
  });
  return {
    endpoint,
    ...(child.pid === undefined ? {} : { pid: child.pid }),
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      await exited;
    },
  };
}

if (process.argv.includes(CHILD_FLAG)) {
  // Ctrl-C in a terminal (or a service manager's stop) signals the whole process group: the
  // runtime stops this process itself, by disconnecting, after it has read what it needs.
  // Were the runtime killed outright, the disconnect still ends this process.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
  const directory = process.argv[process.argv.indexOf(CHILD_FLAG) + 1];
  const dynamo = await startDynamoDB(directory ? { directory } : {});
  process.send?.({ endpoint: dynamo.endpoint });
  process.once('disconnect', () => {
    void dynamo.close().finally(() => process.exit(0));
  });
}
