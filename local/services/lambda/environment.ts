/**
 * One Lambda execution environment: a worker thread with its function's environment
 * variables and credentials only, loading its deployed bundle (`lambda-worker.mjs`),
 * answering one invocation at a time and keeping module scope between them, its heap capped
 * at the function's memory. Written here because no library runs Lambda bundles
 * in-process: the emulators that do (SAM, LocalStack) need Docker. The function's
 * environments together are `environments.ts`.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';

const WORKER = new URL('./lambda-worker.mjs', import.meta.url);

/**
 * Nice steps an environment's thread runs below the runtime's services: every call a handler
 * makes is served on the runtime's main thread or in the DynamoDB process, which AWS runs on
 * fleets of their own. With equal shares, a burst of busy environments slowed the services
 * all of them waited on.
 */
export const ENVIRONMENT_NICENESS = 10;
/**
 * For a function whose caller waits on the line with a timeout (the webhook, behind API
 * Gateway or a Function URL): above the other functions, still below the services, so a
 * backlog of queued work waits in its queue rather than in front of VideoGen's deliveries.
 */
export const ANSWERING_ENVIRONMENT_NICENESS = 5;
/**
 * An environment's young generation (MB). V8 grows it to 48 MB on 64-bit under steady
 * allocation, per isolate: about 20 environments then held ~130 MB more of the runtime's RSS
 * (505 files through `run`: 954 MB → 822 MB for the main process at 4 MB) for no CPU saved,
 * as a handler's short-lived garbage fits a small one. Not a limit Lambda sets: it changes
 * when V8 collects, not what a handler may allocate (the old generation keeps its memory).
 */
export const ENVIRONMENT_YOUNG_GENERATION_MB = 4;

/** What an environment is of: its function, as deployed. */
export interface EnvironmentOptions {
  readonly functionName: string;
  readonly functionArn: string;
  readonly memoryMiB: number;
  readonly bundle: string;
  /** The handler's export in the bundle (`index.handler` → `handler`). @default 'handler' */
  readonly exportName?: string;
  /** Where Node keeps the bundle's compiled code between starts. @default beside the bundle's folder */
  readonly compileCache?: string;
  readonly variables: Readonly<Record<string, string>>;
  /**
   * How many nice steps below the runtime's services the environment's thread runs (Linux
   * only, where a nice value is a thread's own). @default ENVIRONMENT_NICENESS
   */
  readonly niceness?: number;
  /** Each line the function writes (its log group, on Lambda). @default to this process's stderr */
  readonly onOutput?: (line: string, stream: 'stdout' | 'stderr') => void;
}

/**
 * Every line of a worker's output, whole: lines of concurrent environments never interleave.
 * Unclaimed, both streams go to this process's stderr: what a function prints is its log
 * (CloudWatch, on AWS), never the result a command prints on stdout.
 */
function forwardLines(
  from: Readable,
  stream: 'stdout' | 'stderr',
  onOutput: EnvironmentOptions['onOutput'],
): void {
  createInterface({ input: from, crlfDelay: Infinity }).on('line', (line) => {
    if (onOutput) onOutput(line, stream);
    else process.stderr.write(`${line}\n`);
  });
}

/** An error a handler threw or Lambda raised, with the name Step Functions matches on. */
export class LambdaInvocationError extends Error {
  constructor(name: string, message: string, stack?: string) {
    super(message);
    this.name = name;
    if (stack) this.stack = stack;
  }
}

export interface Answer {
  readonly id: string;
  readonly result?: string;
  readonly error?: { name: string; message: string; stack?: string };
  readonly heapBytes: number;
  /** CPU the environment's thread used on the invocation (0 where Node cannot tell). */
  readonly cpuMicros: number;
  /** Time its thread was ready to run but waited for a core (Linux's schedstat; 0 elsewhere). */
  readonly readyMicros?: number;
}

/** One environment: a worker that answers invocations in order. */
export class Environment {
  readonly #worker: Worker;
  /** Resolves, once the bundle is loaded, with the CPU its start took (µs). */
  readonly ready: Promise<number>;
  #pending: { id: string; resolve: (answer: Answer) => void; reject: (error: Error) => void } | undefined;
  alive = true;

  constructor(spec: EnvironmentOptions) {
    this.#worker = new Worker(WORKER, {
      env: { ...spec.variables },
      // Nothing of the runtime's own loaders (tsx, vitest): the bundle runs on plain Node, as on Lambda.
      execArgv: [],
      workerData: {
        bundle: spec.bundle,
        exportName: spec.exportName ?? 'handler',
        compileCache: spec.compileCache ?? path.join(path.dirname(spec.bundle), '..', 'compile-cache'),
        niceness: spec.niceness ?? ENVIRONMENT_NICENESS,
        context: {
          functionName: spec.functionName,
          functionVersion: '$LATEST',
          invokedFunctionArn: spec.functionArn,
          memoryLimitInMB: String(spec.memoryMiB),
          logGroupName: `/aws/lambda/${spec.functionName}`,
          logStreamName: `local/${randomUUID()}`,
        },
      },
      resourceLimits: {
        maxOldGenerationSizeMb: spec.memoryMiB,
        maxYoungGenerationSizeMb: ENVIRONMENT_YOUNG_GENERATION_MB,
      },
      stdout: true,
      stderr: true,
    });
    forwardLines(this.#worker.stdout, 'stdout', spec.onOutput);
    forwardLines(this.#worker.stderr, 'stderr', spec.onOutput);
    this.ready = new Promise((resolve, reject) => {
      this.#worker.once('message', (ready: { cpuMicros?: number }) => resolve(ready.cpuMicros ?? 0));
      this.#worker.once('error', reject);
    });
    this.#worker.on('message', (answer: Answer | { ready: true }) => {
      if (!('id' in answer) || answer.id !== this.#pending?.id) return;
      const pending = this.#pending;
      this.#pending = undefined;
      pending.resolve(answer);
    });
    const die = (error: Error) => {
      this.alive = false;
      this.#pending?.reject(error);
      this.#pending = undefined;
    };
    this.#worker.on('error', (error) =>
      die(
        error.name === 'Error' && /ERR_WORKER_OUT_OF_MEMORY/.test(String((error as { code?: string }).code))
          ? new LambdaInvocationError('Runtime.OutOfMemory', error.message)
          : new LambdaInvocationError('Runtime.ExitError', `the environment crashed: ${error.message}`),
      ),
    );
    this.#worker.on('exit', (code) =>
      die(new LambdaInvocationError('Runtime.ExitError', `the environment exited with ${code}`)),
    );
  }

  run(event: unknown, deadline: number): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const id = randomUUID();
      this.#pending = { id, resolve, reject };
      this.#worker.postMessage({ id, event: JSON.stringify(event ?? null), deadline, awsRequestId: id });
    });
  }

  async end(): Promise<void> {
    this.alive = false;
    await this.#worker.terminate();
  }
}
