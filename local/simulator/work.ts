/**
 * The simulator's work in the background: lifecycle steps and delivery retries on timers,
 * uploads and deliveries under way. `settled()` waits for all of it; `close()` cancels it.
 */
export class BackgroundWork {
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #inflight = new Set<AbortController>();
  #pending = 0;
  #closed = false;

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs `task` after `delayMs`, unless the simulator closes first. */
  schedule(delayMs: number, task: () => void): void {
    if (this.#closed) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      task();
    }, delayMs);
    this.#timers.add(timer);
  }

  /** Counts work under way until the returned function is called. */
  begin(): () => void {
    this.#pending += 1;
    let ended = false;
    return () => {
      if (!ended) this.#pending -= 1;
      ended = true;
    };
  }

  /** An abort signal that fires after `timeoutMs` or when the simulator closes, and its release. */
  abortable(timeoutMs: number): { signal: AbortSignal; release: () => void } {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    this.#inflight.add(controller);
    const end = this.begin();
    return {
      signal: controller.signal,
      release: () => {
        clearTimeout(timer);
        this.#inflight.delete(controller);
        end();
      },
    };
  }

  /** Resolves once nothing is scheduled or under way. */
  async settled(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#timers.size > 0 || this.#pending > 0) {
      if (Date.now() > deadline) throw new Error(`simulator still busy after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const controller of this.#inflight) controller.abort();
  }
}
