/**
 * Runs the DynamoDB emulator in a process of its own (`startDynamoDBProcess`), so its CPU
 * work does not compete with the handlers on the runtime's event loop. The child sends
 * its endpoint once listening and closes when the parent disconnects. Calls through `call`
 * (the IAM gate's) cross the IPC channel instead of loopback HTTP: a second HTTP client and
 * server for every function's DynamoDB call cost both processes more than a message each way.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startDynamoDB, type LocalDynamoDB } from './dynamodb.ts';
import type { FrontAnswer } from './dynamodb-stream-capture.ts';

/** A call over the IPC channel, and its answer; bodies are DynamoDB's JSON text. */
interface CallMessage {
  readonly call: number;
  readonly target: string;
  readonly body: string;
}
interface AnswerMessage {
  readonly answer: number;
  readonly status: number;
  readonly headers?: FrontAnswer['headers'];
  readonly body: string;
}

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
  const waiting = new Map<
    number,
    { resolve: (answer: FrontAnswer) => void; reject: (error: Error) => void }
  >();
  let calls = 0;
  child.on('message', (message: Partial<AnswerMessage>) => {
    if (message.answer === undefined) return;
    const caller = waiting.get(message.answer);
    waiting.delete(message.answer);
    caller?.resolve({
      status: message.status ?? 500,
      ...(message.headers ? { headers: message.headers } : {}),
      body: message.body ?? '',
    });
  });
  child.once('exit', (code) => {
    for (const caller of waiting.values())
      caller.reject(new Error(`the DynamoDB emulator exited with ${code}`));
    waiting.clear();
  });
  return {
    endpoint,
    ...(child.pid === undefined ? {} : { pid: child.pid }),
    call: (target, body) =>
      new Promise<FrontAnswer>((resolve, reject) => {
        if (!child.connected) {
          reject(new Error('the DynamoDB emulator has stopped'));
          return;
        }
        const id = (calls += 1);
        waiting.set(id, { resolve, reject });
        child.send({ call: id, target, body: body.toString('utf8') } satisfies CallMessage);
      }),
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
  process.on('message', (message: Partial<CallMessage>) => {
    if (message.call === undefined) return;
    const id = message.call;
    void dynamo
      .call(message.target ?? '', Buffer.from(message.body ?? '', 'utf8'))
      .catch((error: unknown): FrontAnswer => ({
        status: 500,
        body: JSON.stringify({ __type: 'InternalServerError', message: String(error) }),
      }))
      .then((answer) => {
        const reply: AnswerMessage = {
          answer: id,
          status: answer.status,
          ...(answer.headers ? { headers: answer.headers } : {}),
          body: answer.body.toString(),
        };
        if (process.connected) process.send?.(reply);
      });
  });
  process.once('disconnect', () => {
    void dynamo.close().finally(() => process.exit(0));
  });
}
