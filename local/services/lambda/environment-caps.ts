/**
 * How many environments each function may grow to on this machine (`lambdas.ts` gives each
 * function's `FunctionEnvironments` its cap; `environments.ts` decides when one more starts).
 */
import { availableParallelism } from 'node:os';

/**
 * Environments per function at once on this machine: one per core, at least two, at most 8
 * (the webhook gets twice that and the transfer worker its cap: `environmentCap`). Each is a V8
 * isolate (~25 MB) whose start costs ~250 ms of CPU and whose code warms on its own share of
 * the traffic only; past one per core, more isolates of a function that keeps the CPU busy
 * only add compiling and memory (measured on 2 cores, 505 files through `run`: 4 per function
 * 49–56 s and ~1.03 GB, 2 per function 43–45 s and ~0.85 GB; 400 files through the
 * pipeline: 13–14.5 against 14.7–15.9 files/s). A function whose deployed concurrency is a
 * setting (an SQS mapping's maximum concurrency: the transfer cap) gets that many, as its
 * invocations mostly wait on the network. They start one per core at a time (`StartGate`) and
 * one of a function at a time, only while their line outwaits a cold start (or, at a mapping's
 * cap, has waited one in all since its last start), and past a function's first only while a
 * core idles or its invocations mostly wait on the network (but the webhook's, whose caller
 * waits): the caps are what a function may grow to (`environments.ts`).
 */
export const DEFAULT_ENVIRONMENTS_PER_FUNCTION = Math.max(2, Math.min(8, availableParallelism()));

/**
 * The most environments a function may grow to here: `DEFAULT_ENVIRONMENTS_PER_FUNCTION`,
 * twice that for a function whose caller waits on its answer (the webhook: with one per core,
 * 1,000 files dropped into `start` had 3,751–3,892 deliveries refused for a line past a second
 * and 85–99 events given up, their files left to their poll; with two per core, 40–70
 * refused and none given up), and a queue mapping's maximum concurrency where that is more
 * (the transfer cap, as deployed: its invocations mostly wait on VideoGen). `perFunction`,
 * where set, is every function's cap instead (the bench's warm floor: one isolate a
 * function, each warming on all its traffic).
 */
export function environmentCap(options: {
  readonly answersCaller: boolean;
  readonly mappingMaxConcurrency: readonly number[];
  readonly perFunction?: number | undefined;
}): number {
  const { perFunction } = options;
  if (perFunction !== undefined) {
    if (!Number.isInteger(perFunction) || perFunction < 1)
      throw new RangeError(
        `environmentsPerFunction must be a whole number of at least 1, not ${perFunction}`,
      );
    return perFunction;
  }
  return Math.max(
    (options.answersCaller ? 2 : 1) * DEFAULT_ENVIRONMENTS_PER_FUNCTION,
    ...options.mappingMaxConcurrency,
  );
}
