/**
 * VideoGen's rate limit on file creation, as the simulator plays it: at most `perSecond`
 * creates are accepted in any trailing second; the rest are answered 429 with
 * `Retry-After`. The limit is the account's, shared by every caller, as an API's is.
 */
export interface CreateRateLimit {
  readonly perSecond: number;
  /** @default 1 */
  readonly retryAfterSeconds?: number;
}

export class SlidingWindowLimit {
  readonly #perSecond: number;
  readonly #accepted: number[] = [];

  constructor(perSecond: number) {
    if (!(perSecond > 0)) throw new Error(`a rate limit needs a positive rate, got ${perSecond}`);
    this.#perSecond = perSecond;
  }

  /** Takes a slot in the trailing second; `false` when the limit is reached. */
  tryTake(now = Date.now()): boolean {
    while (this.#accepted.length > 0 && (this.#accepted[0] ?? 0) <= now - 1000) this.#accepted.shift();
    if (this.#accepted.length >= this.#perSecond) return false;
    this.#accepted.push(now);
    return true;
  }
}
