/**
 * Lambda's execution environments for one function, as Lambda runs them: each one
 * (`environment.ts`) serves one invocation at a time and is reused while warm; a timeout or
 * a crash ends it (the next invocation starts a cold one).
 */
import { Environment, LambdaInvocationError, type EnvironmentOptions } from './environment.ts';
import type { StartGate } from './start-gate.ts';

export interface EnvironmentSpec extends EnvironmentOptions {
  readonly timeoutSeconds: number;
  /**
   * Environments this function may have at once on this machine; further invocations wait
   * for one to be free (Lambda would start more, up to the account's concurrency).
   */
  readonly maxEnvironments: number;
  /**
   * Past its first environment, another starts only while the machine has a core idle
   * (`StartGate.coreIdle`) or this function's invocations mostly wait on something other
   * than a core (the network). Not for a function answering a caller on the line, whose
   * environments run above the others' and so get a core from them. @default false
   */
  readonly sparesBusyCores?: boolean;
  /**
   * Its cap is a deployed setting (a queue mapping's maximum concurrency: the transfer cap),
   * which AWS runs in full: a line that keeps waiting grows it toward that cap, though no
   * invocation alone would outwait a cold start (`FunctionEnvironments`). @default false
   */
  readonly fillsDeployedConcurrency?: boolean;
  /** Shared by every function: how many environments may be starting at once. */
  readonly startGate: StartGate;
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
  /** Time in the handler, as Lambda bills it (whole milliseconds per invocation); not the wait for an environment. */
  readonly billedMs: number;
  /** CPU time of the invocations (ms), on Node 22.19 and later (0 before). */
  readonly cpuMs: number;
  /** CPU time of the environments' starts (ms): the thread's and the bundle's module scope. */
  readonly startCpuMs: number;
  /** Invocations refused because every environment stayed busy past their `maxWaitMs`. */
  readonly shed: number;
}

/** How one invocation may wait for an environment. */
export interface InvokeOptions {
  /**
   * The caller gave up (a webhook sender's timeout) while the invocation still waited for an
   * environment, which Lambda, never making it wait, would not have; it is then not run.
   */
  readonly signal?: AbortSignal;
  /**
   * The longest the invocation may wait for a busy environment (the line ahead of it, at the
   * pace invocations have been running). Past it, it is refused at once with Lambda's
   * `TooManyRequestsException` (HTTP 429 to a caller on the line) instead of reaching its
   * handler after its caller has hung up. @default no limit
   */
  readonly maxWaitMs?: number;
}

/** A local refusal: every environment busy for longer than the caller may wait (`InvokeOptions.maxWaitMs`). */
export class EnvironmentsBusyError extends LambdaInvocationError {
  constructor(functionName: string, expectedWaitMs: number) {
    super(
      'TooManyRequestsException',
      `Rate Exceeded. (${functionName}: every local environment is busy for about ${Math.round(expectedWaitMs)} ms more)`,
    );
  }
}

/** An invocation waiting for an environment: handed one in arrival order. */
interface Waiter {
  readonly since: number;
  readonly take: (environment: Environment) => void;
  readonly fail: (error: Error) => void;
}

/** Weight of the last invocation but one against the last, in `#noteWaitsElsewhere`'s sums (about the last ten count). */
const RECENT_DECAY = 0.9;
/** Past this share of their time waiting on something other than a core, a function's invocations grow on a busy machine too. */
export const WAITING_ELSEWHERE_TO_GROW = 0.75;

/** Until a function's own cold starts are measured: about what one costs on a small machine. */
const COLD_START_ESTIMATE_MS = 250;

/**
 * Every environment of one function. Lambda starts an environment for every invocation
 * that finds none free; on a laptop each start is a V8 isolate (~25 MB, ~250 ms of CPU) and
 * every isolate warms its code on its own share of the traffic only. So an invocation that
 * finds every environment busy waits in line for one, and another environment is started
 * only when the line would take longer than a cold start (its expected wait, or its oldest
 * invocation's wait, past this function's measured cold start) or, for a function whose cap
 * is its deployed concurrency, once its invocations have waited in line, all together, a
 * cold start's time since its last start (`#lineHasCostAColdStart`). Concurrency is counted as
 * on Lambda all the same (`lambdas.ts` admits before this), and each freed environment is
 * handed to the longest-waiting invocation alone, the most recently used one first.
 */
export class FunctionEnvironments {
  readonly #spec: EnvironmentSpec;
  /** Free environments, the most recently used last (the warmest code). */
  readonly #idle: Environment[] = [];
  readonly #all = new Set<Environment>();
  readonly #line: Waiter[] = [];
  #starting = 0;
  /** When this function's last environment started. */
  #lastStartAt: number | undefined;
  /** Time invocations spent in line since `#lastStartAt`, those that have left it (ms). */
  #waitedSinceLastStartMs = 0;
  #busy = 0;
  #peakConcurrency = 0;
  #peakHeapBytes = 0;
  readonly #coldStartMs: number[] = [];
  /** Invocation time, a moving average: what one invocation in the line adds to its wait. */
  #averageRunMs: number | undefined;
  #billedMs = 0;
  #cpuMicros = 0;
  /** Recent invocations' time, and how much of it their threads neither ran nor waited for a core (decayed sums, ms). */
  #recentRunMs = 0;
  #recentWaitingElsewhereMs = 0;
  #startCpuMicros = 0;
  #shed = 0;
  #scaleTimer: NodeJS.Timeout | undefined;
  #stopWaitingForStartSlot: (() => void) | undefined;

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
      billedMs: this.#billedMs,
      cpuMs: Math.round(this.#cpuMicros / 1000),
      startCpuMs: Math.round(this.#startCpuMicros / 1000),
      shed: this.#shed,
    };
  }

  /** Runs one invocation in a warm environment, or a cold one when none is free. */
  async invoke(event: unknown, options: InvokeOptions = {}): Promise<unknown> {
    this.#refuseWhenBusyPast(options.maxWaitMs);
    this.#busy += 1;
    this.#peakConcurrency = Math.max(this.#peakConcurrency, this.#busy);
    let environment: Environment | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      environment = await this.#acquire(options.signal);
      const started = performance.now();
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
      const ranMs = performance.now() - started;
      this.#billedMs += Math.ceil(ranMs);
      this.#cpuMicros += answer.cpuMicros;
      this.#noteWaitsElsewhere(ranMs, answer.cpuMicros, answer.readyMicros ?? 0);
      this.#averageRunMs = this.#averageRunMs === undefined ? ranMs : 0.8 * this.#averageRunMs + 0.2 * ranMs;
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
      if (environment?.alive) this.#release(environment);
      else this.#scale();
    }
  }

  /**
   * Throws `EnvironmentsBusyError` when an invocation would wait longer than `maxWaitMs`: none
   * is free, no more may start, and the line ahead (at the pace invocations have been
   * running, or its oldest invocation's wait already) outlasts it.
   */
  #refuseWhenBusyPast(maxWaitMs: number | undefined): void {
    if (maxWaitMs === undefined || this.#all.size < this.#spec.maxEnvironments) return;
    if (this.#line.length === 0 && this.#idle.length > 0) return;
    const waitMs = this.#lineWaitMs(this.#line.length + 1);
    if (waitMs <= maxWaitMs) return;
    this.#shed += 1;
    throw new EnvironmentsBusyError(this.#spec.functionName, waitMs);
  }

  /** A free environment now, or a place in the line for the next one. */
  #acquire(signal?: AbortSignal): Promise<Environment> {
    signal?.throwIfAborted();
    const warm = this.#line.length === 0 ? this.#idle.pop() : undefined;
    if (warm) return Promise.resolve(warm);
    return new Promise<Environment>((resolve, reject) => {
      const leave = () => {
        const index = this.#line.indexOf(waiter);
        if (index >= 0) this.#line.splice(index, 1);
        reject(signal?.reason instanceof Error ? signal.reason : new Error('the invocation was abandoned'));
      };
      const waiter: Waiter = {
        since: performance.now(),
        take: (environment) => {
          signal?.removeEventListener('abort', leave);
          resolve(environment);
        },
        fail: (error) => {
          signal?.removeEventListener('abort', leave);
          reject(error);
        },
      };
      this.#line.push(waiter);
      signal?.addEventListener('abort', leave, { once: true });
      this.#scale();
    });
  }

  /** An environment is free: to the longest-waiting invocation, else among the idle. */
  #release(environment: Environment): void {
    const next = this.#line.shift();
    if (!next) {
      this.#idle.push(environment);
      return;
    }
    this.#waitedSinceLastStartMs += this.#waitedSinceLastStart(next);
    next.take(environment);
  }

  #waitedSinceLastStart(waiter: Waiter): number {
    return performance.now() - Math.max(waiter.since, this.#lastStartAt ?? waiter.since);
  }

  /**
   * Whether, since this function's last start, its invocations have waited in line, all
   * together, as long as a cold start takes. At a deployed cap (the transfer cap), a line
   * that never outwaits a cold start at once but never empties either (four transfers at a
   * cap of 4 on three environments, each waiting a third of an invocation) holds the function
   * under the concurrency AWS would run, for as long as it lasts; one start, paid once, ends
   * it. Measured at scale (3,000 files, a cap of 4, 200 ms uploads): without this, often three
   * transfers at a time, the machine 60 % idle, and none of the 429s that four at once meet.
   * Other functions keep the rule of one wait past a start: their lines come in bursts, and
   * each isolate keeps its memory (for every function whose invocations mostly wait, this
   * rule gave await-file a second isolate in every run at scale, for no throughput).
   */
  #lineHasCostAColdStart(): boolean {
    const waitingNowMs = this.#line.reduce((sum, waiter) => sum + this.#waitedSinceLastStart(waiter), 0);
    return this.#waitedSinceLastStartMs + waitingNowMs >= this.#coldStartEstimateMs();
  }

  #coldStartEstimateMs(): number {
    return this.#coldStartMs.length
      ? this.#coldStartMs.reduce((sum, ms) => sum + ms, 0) / this.#coldStartMs.length
      : COLD_START_ESTIMATE_MS;
  }

  /** Whether the line would wait longer for a warm environment than for a cold one (read with no start under way). */
  #lineOutwaitsColdStart(): boolean {
    const waiting = this.#line.length;
    if (waiting === 0) return false;
    if (this.#all.size === 0) return true;
    return this.#lineWaitMs(waiting) >= this.#coldStartEstimateMs();
  }

  #noteWaitsElsewhere(ranMs: number, cpuMicros: number, readyMicros: number): void {
    const elsewhereMs = Math.max(0, ranMs - (cpuMicros + readyMicros) / 1000);
    this.#recentRunMs = RECENT_DECAY * this.#recentRunMs + ranMs;
    this.#recentWaitingElsewhereMs = RECENT_DECAY * this.#recentWaitingElsewhereMs + elsewhereMs;
  }

  /**
   * Whether another environment would add throughput: always the first; else while a core
   * idles, or while this function's invocations mostly wait on something other than a core
   * (the network: the transfer worker's uploads), which more of them at once overlap.
   */
  #anotherWouldRun(): boolean {
    if (this.#all.size === 0 || !this.#spec.sparesBusyCores) return true;
    const waitingElsewhere = this.#recentRunMs > 0 ? this.#recentWaitingElsewhereMs / this.#recentRunMs : 0;
    return waitingElsewhere >= WAITING_ELSEWHERE_TO_GROW || this.#spec.startGate.coreIdle();
  }

  /**
   * How long the `waiting`-th invocation in line will wait for an environment: the line's
   * length at the pace invocations have been running, or its oldest one's wait so far.
   */
  #lineWaitMs(waiting: number): number {
    const oldestWaitMs = performance.now() - (this.#line[0]?.since ?? performance.now());
    const expectedWaitMs = ((this.#averageRunMs ?? 0) * waiting) / Math.max(1, this.#all.size);
    return Math.max(oldestWaitMs, expectedWaitMs);
  }

  /**
   * Starts an environment when the line is worth a start (it outwaits a cold start or, at a
   * deployed cap, has cost one in all), under the cap, as start slots allow; looks again
   * later otherwise. One start of a function at a time: the line and the machine's idle cores
   * are read again once it serves, so a short burst does not start several isolates that the
   * first one would have sufficed for.
   */
  #scale(): void {
    clearTimeout(this.#scaleTimer);
    this.#scaleTimer = undefined;
    this.#stopWaitingForStartSlot?.();
    this.#stopWaitingForStartSlot = undefined;
    if (this.#starting > 0 || this.#line.length === 0 || this.#all.size >= this.#spec.maxEnvironments) return;
    const lineIsWorthAStart =
      this.#lineOutwaitsColdStart() ||
      (this.#spec.fillsDeployedConcurrency === true && this.#lineHasCostAColdStart());
    if (!lineIsWorthAStart || !this.#anotherWouldRun()) {
      // Not yet: look again when the oldest invocation has waited a cold start's time, or a core idles.
      this.#scaleTimer = setTimeout(() => this.#scale(), COLD_START_ESTIMATE_MS / 5);
      this.#scaleTimer.unref();
      return;
    }
    if (!this.#spec.startGate.tryTake()) {
      this.#stopWaitingForStartSlot = this.#spec.startGate.whenReleased(() => this.#scale());
      return;
    }
    void this.#coldStart();
  }

  async #coldStart(): Promise<void> {
    this.#starting += 1;
    const started = performance.now();
    this.#lastStartAt = started;
    this.#waitedSinceLastStartMs = 0;
    const environment = new Environment(this.#spec);
    this.#all.add(environment);
    try {
      // Read once the start is over: `+= await` would add to a total read before it, losing
      // what other environments' starts added meanwhile.
      const startCpuMicros = await environment.ready;
      this.#startCpuMicros += startCpuMicros;
      this.#coldStartMs.push(Math.round(performance.now() - started));
      this.#release(environment);
    } catch (error) {
      this.#all.delete(environment);
      // The line's first invocation gets the init error, as Lambda reports one to the invocation that started it.
      this.#line.shift()?.fail(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.#starting -= 1;
      this.#spec.startGate.release();
      this.#scale();
    }
  }

  /** Ends every environment running an invocation: each invocation fails `Runtime.ExitError`. */
  crashBusy(): number {
    const busy = [...this.#all].filter((environment) => !this.#idle.includes(environment));
    for (const environment of busy) void environment.end();
    return busy.length;
  }

  async close(): Promise<void> {
    clearTimeout(this.#scaleTimer);
    this.#stopWaitingForStartSlot?.();
    await Promise.all([...this.#all].map((environment) => environment.end()));
    this.#all.clear();
    this.#idle.length = 0;
  }
}
