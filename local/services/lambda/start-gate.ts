/**
 * What every function's environments share on one machine: how many may be starting at once,
 * and whether a core is idle for another one (`environments.ts` asks before each start).
 */
import { IdleCores } from './idle-cores.ts';

/** Idle cores a machine needs for another environment to be worth its start. */
export const IDLE_CORES_TO_GROW = 0.2;

/**
 * How many environments may start at once across the runtime (one per core): a burst
 * then starts environments at the pace the machine can, and an invocation that waits for
 * a start takes a warm environment instead as soon as one is free, as Lambda's scaling
 * rate does on a larger scale. And whether the machine has a core to give another one.
 */
export class StartGate {
  #free: number;
  readonly #waiting = new Set<() => void>();
  readonly #idleCores: () => number;

  /** `idleCores`: the machine's idle CPU lately, in cores. @default read from the machine (`IdleCores`) */
  constructor(slots: number, idleCores?: () => number) {
    this.#free = slots;
    if (idleCores) this.#idleCores = idleCores;
    else {
      const machine = new IdleCores();
      this.#idleCores = () => machine.current;
    }
  }

  /**
   * Whether a core sat idle lately. Each isolate compiles and warms its code on its own share
   * of the traffic, so while every core is busy another environment of a function only
   * splits that function's work finer (measured on 2 cores, 400 files through the pipeline:
   * 85 ms of CPU a file with seven transfer environments and two of each other function,
   * 68 ms with two and one). A function whose invocations wait on the network grows all the
   * same (`FunctionEnvironments`).
   */
  coreIdle(): boolean {
    return this.#idleCores() >= IDLE_CORES_TO_GROW;
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
