/**
 * How a local runtime stops: one list, in the order AWS itself would wind a stack down.
 * Every service registers its close as it starts, under its phase; closing runs the phases
 * in order (within one, the last started first), each step once, whether the runtime is
 * stopped or its start failed half-way.
 */
const PHASES = [
  // The webhook registrations go first, as a stack deletion's custom resource does.
  'registrations',
  // Then VideoGen, so that nothing new arrives.
  'videogen',
  // Then what runs handlers: nothing may outlive the emulators it calls.
  'event-sources',
  'workflows',
  'functions',
  // Then the endpoints the handlers called, and what keeps the state.
  'endpoints',
  'storage',
] as const;
export type ShutdownPhase = (typeof PHASES)[number];

export class ShutdownList {
  readonly #steps: { phase: ShutdownPhase; close: () => unknown }[] = [];
  #closing: Promise<void> | undefined;

  add(phase: ShutdownPhase, close: () => unknown): void {
    this.#steps.push({ phase, close });
  }

  /** Runs every step once, in order; a step that fails does not hold the others back. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const phase of PHASES) {
        for (const step of this.#steps.filter((each) => each.phase === phase).reverse()) {
          await Promise.resolve()
            .then(step.close)
            .catch(() => undefined);
        }
      }
    })();
    return this.#closing;
  }
}
