/**
 * Lambda's execution environments for one function, as Lambda runs them: each a worker
 * thread with that function's environment variables and credentials only, loading its
 * deployed bundle, serving one invocation at a time and reused while warm. A timeout or a
 * crash ends the environment (the next invocation starts a cold one); the heap is capped
 * at the function's memory. Written here because no library runs Lambda bundles in-process:
 * the emulators that do (SAM, LocalStack) need Docker.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';

const WORKER = new URL('./lambda-worker.mjs', import.meta.url);

export interface EnvironmentSpec {
  readonly functionName: string;
  readonly functionArn: string;
  readonly memoryMiB: number;
  readonly timeoutSeconds: number;
  readonly bundle: string;
  /** The handler's export in the bundle (`index.handler` → `handler`). @default 'handler' */
  readonly exportName?: string;
  /** Where Node keeps the bundle's compiled code between starts. @default beside the bundle's folder */
  readonly compileCache?: string;
  readonly variables: Readonly<Record<string, string>>;
  /**
   * Environments this function may have at once on this machine; further invocations wait
   * for one to be free (Lambda would start more, up to the account's concurrency).
   */
  readonly maxEnvironments: number;
  /** Shared by every function: how many environments may be starting at once. */
  readonly startGate: StartGate;
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
  onOutput: EnvironmentSpec['onOutput'],
): void {
  createInterface({ input: from, crlfDelay: Infinity }).on('line', (line) => {
    if (onOutput) onOutput(line, stream);
    else process.stderr.write(`${line}\n`);
  });
}

/**
 * How many environments may start at once across the runtime (one per core): a burst
 * then starts environments at the pace the machine can, and an invocation that waits for
 * a start takes a warm environment instead as soon as one is free, as Lambda's scaling
 * rate does on a larger scale.
 */
export class StartGate {
  #free: number;
  readonly #waiting = new Set<() => void>();

  constructor(slots: number) {
    this.#free = slots;
  }

  tryTake(): boolean {
    if (this.#free === 0) return false;
    this.#free -= 1;
    return true;
  }

  release(): void {
    this.#free += 1;
    for (const wake of [...this.#waiting]) wake();
  }

  /** Calls `wake` the next time a slot is released; answers how to stop waiting. */
  whenReleased(wake: () => void): () => void {
    this.#waiting.add(wake);
    return () => this.#waiting.delete(wake);
  }
}

/** An error a handler threw or Lambda raised, with the name Step Functions matches on. */
export class LambdaInvocationError extends Error {
  constructor(name: string, message: string, stack?: string) {
    super(message);
    this.name = name;
    if (stack) this.stack = stack;
  }
}

interface Answer {
  readonly id: string;
  readonly result?: string;
  readonly error?: { name: string; message: string; stack?: string };
  readonly heapBytes: number;
}

/** One environment: a worker that answers invocations in order. */
class Environment {
  readonly #worker: Worker;
  readonly ready: Promise<void>;
  #pending: { id: string; resolve: (answer: Answer) => void; reject: (error: Error) => void } | undefined;
  alive = true;

  constructor(spec: EnvironmentSpec) {
    this.#worker = new Worker(WORKER, {
      env: { ...spec.variables },
      // Nothing of the runtime's own loaders (tsx, vitest): the bundle runs on plain Node, as on Lambda.
      execArgv: [],
      workerData: {
        bundle: spec.bundle,
        exportName: spec.exportName ?? 'handler',
        compileCache: spec.compileCache ?? path.join(path.dirname(spec.bundle), '..', 'compile-cache'),
        context: {
          functionName: spec.functionName,
          functionVersion: '$LATEST',
          invokedFunctionArn: spec.functionArn,
          memoryLimitInMB: String(spec.memoryMiB),
          logGroupName: `/aws/lambda/${spec.functionName}`,
          logStreamName: `local/${randomUUID()}`,
        },
      },
      resourceLimits: { maxOldGenerationSizeMb: spec.memoryMiB },
      stdout: true,
      stderr: true,
    });
    forwardLines(this.#worker.stdout, 'stdout', spec.onOutput);
    forwardLines(this.#worker.stderr, 'stderr', spec.onOutput);
    this.ready = new Promise((resolve, reject) => {
      this.#worker.once('message', () => resolve());
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

/** Figures of one function's environments, for the runtime's report and the benchmarks. */
export interface EnvironmentFigures {
  readonly coldStarts: number;
  readonly coldStartMs: readonly number[];
  readonly environments: number;
  readonly peakConcurrency: number;
  /** The largest heap one environment used after an invocation, against the configured memory. */
  readonly peakHeapBytes: number;
  readonly memoryMiB: number;
}

/** Every environment of one function. */
export class FunctionEnvironments {
  readonly #spec: EnvironmentSpec;
  readonly #idle: Environment[] = [];
  readonly #all = new Set<Environment>();
  #busy = 0;
  #peakConcurrency = 0;
  #peakHeapBytes = 0;
  readonly #coldStartMs: number[] = [];
  readonly #waiting = new Set<() => void>();

  constructor(spec: EnvironmentSpec) {
    this.#spec = spec;
  }

  get figures(): EnvironmentFigures {
    return {
      coldStarts: this.#coldStartMs.length,
      coldStartMs: [...this.#coldStartMs],
      environments: this.#all.size,
      peakConcurrency: this.#peakConcurrency,
      peakHeapBytes: this.#peakHeapBytes,
      memoryMiB: this.#spec.memoryMiB,
    };
  }

  /**
   * Runs one invocation in a warm environment, or a cold one when none is free. `signal`:
   * the caller gave up (a webhook sender's timeout) while the invocation still waited for an
   * environment, which Lambda, never making it wait, would not have; it is then not run.
   */
  async invoke(event: unknown, signal?: AbortSignal): Promise<unknown> {
    this.#busy += 1;
    this.#peakConcurrency = Math.max(this.#peakConcurrency, this.#busy);
    let environment: Environment | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      environment = await this.#acquire(signal);
      const deadline = Date.now() + this.#spec.timeoutSeconds * 1000;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new LambdaInvocationError(
                'Sandbox.Timedout',
                `${this.#spec.functionName}: Task timed out after ${this.#spec.timeoutSeconds.toFixed(2)} seconds`,
              ),
            ),
          this.#spec.timeoutSeconds * 1000,
        );
      });
      const answer = await Promise.race([environment.run(event, deadline), timedOut]);
      this.#peakHeapBytes = Math.max(this.#peakHeapBytes, answer.heapBytes);
      if (answer.error)
        throw new LambdaInvocationError(answer.error.name, answer.error.message, answer.error.stack);
      return JSON.parse(answer.result ?? 'null') as unknown;
    } catch (error) {
      // Lambda ends an environment whose invocation timed out or crashed; a handler's own error keeps it.
      if (environment && (!environment.alive || (error as Error).name === 'Sandbox.Timedout')) {
        this.#all.delete(environment);
        await environment.end();
        environment = undefined;
      }
      throw error;
    } finally {
      clearTimeout(timer);
      this.#busy -= 1;
      if (environment?.alive) this.#idle.push(environment);
      // Every waiter looks again: one takes this environment, or a start slot, the rest wait.
      for (const wake of [...this.#waiting]) wake();
    }
  }

  /** A warm environment, a cold one while under the cap and a start slot is free, or whichever comes first. */
  async #acquire(signal?: AbortSignal): Promise<Environment> {
    for (;;) {
      signal?.throwIfAborted();
      const warm = this.#idle.pop();
      if (warm) return warm;
      if (this.#all.size < this.#spec.maxEnvironments && this.#spec.startGate.tryTake()) {
        try {
          return await this.#coldStart();
        } finally {
          this.#spec.startGate.release();
        }
      }
      // Woken by whichever comes first; the other registration is withdrawn, so nothing
      // (this invocation's event least of all) stays referenced by a wait that is over.
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiting.delete(wake);
          stopWaitingForStart();
          signal?.removeEventListener('abort', wake);
          resolve();
        };
        this.#waiting.add(wake);
        const stopWaitingForStart = this.#spec.startGate.whenReleased(wake);
        signal?.addEventListener('abort', wake);
      });
    }
  }

  async #coldStart(): Promise<Environment> {
    const started = performance.now();
    const environment = new Environment(this.#spec);
    this.#all.add(environment);
    try {
      await environment.ready;
    } catch (error) {
      this.#all.delete(environment);
      throw error;
    }
    this.#coldStartMs.push(Math.round(performance.now() - started));
    return environment;
  }

  /** Ends every environment running an invocation: each invocation fails `Runtime.ExitError`. */
  crashBusy(): number {
    const busy = [...this.#all].filter((environment) => !this.#idle.includes(environment));
    for (const environment of busy) void environment.end();
    return busy.length;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#all].map((environment) => environment.end()));
    this.#all.clear();
    this.#idle.length = 0;
  }
}
