/**
 * How much of the machine's CPU sat idle lately, in cores, from the kernel's own counters
 * (`os.cpus()`: `/proc/stat` on Linux, the same counters on macOS and Windows). The
 * environments read it before starting another isolate (`environments.ts`): on a machine
 * whose cores are all busy, one more isolate adds compiling and memory, not throughput.
 */
import os from 'node:os';

/** CPU time the machine has spent, summed over its cores (ms since boot). */
export interface CpuTimes {
  readonly idle: number;
  readonly total: number;
}

export function cpuTimes(cpus: readonly os.CpuInfo[] = os.cpus()): CpuTimes {
  let idle = 0;
  let total = 0;
  for (const { times } of cpus) {
    idle += times.idle;
    total += times.user + times.nice + times.sys + times.idle + times.irq;
  }
  return { idle, total };
}

/** Cores' worth of idle time between two readings of `cpus` cores (undefined when no time passed). */
export function idleCoresBetween(before: CpuTimes, after: CpuTimes, cores: number): number | undefined {
  const total = after.total - before.total;
  if (total <= 0) return undefined;
  return (Math.max(0, after.idle - before.idle) / total) * cores;
}

/** How often the machine is read at most: shorter windows are noise (the counters tick every 10 ms). */
const WINDOW_MS = 250;

export class IdleCores {
  readonly #read: () => CpuTimes;
  readonly #cores: number;
  readonly #now: () => number;
  #last: { readonly at: number; readonly times: CpuTimes };
  /** Unknown until a window has passed: taken as idle, so the first environments start. */
  #idle = Number.POSITIVE_INFINITY;

  constructor(options: { read?: () => CpuTimes; cores?: number; now?: () => number } = {}) {
    this.#read = options.read ?? (() => cpuTimes());
    this.#cores = options.cores ?? os.cpus().length;
    this.#now = options.now ?? (() => performance.now());
    this.#last = { at: this.#now(), times: this.#read() };
  }

  /**
   * Idle cores since the last reading, read again once `WINDOW_MS` has passed (a longer
   * window after a quiet spell: the first decision then may start one environment too many).
   */
  get current(): number {
    const at = this.#now();
    if (at - this.#last.at >= WINDOW_MS) {
      const times = this.#read();
      this.#idle = idleCoresBetween(this.#last.times, times, this.#cores) ?? this.#idle;
      this.#last = { at, times };
    }
    return this.#idle;
  }
}
