/**
 * API Gateway's throttle, as its documentation describes it: a token bucket that holds at
 * most `burstLimit` tokens and gains `rateLimit` a second; a request takes one or is
 * answered 429. Written here: a dozen lines, where the npm limiters bring timers and
 * queues this needs none of.
 */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;
  /** Requests refused so far. */
  refused = 0;

  constructor(options: { rateLimit: number; burstLimit: number; now?: () => number }) {
    this.#rate = options.rateLimit;
    this.#burst = options.burstLimit;
    this.#now = options.now ?? (() => performance.now());
    this.#tokens = this.#burst;
    this.#at = this.#now();
  }

  /** Takes a token; `false` (counted) when there is none. */
  take(): boolean {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#at) / 1000) * this.#rate);
    this.#at = now;
    if (this.#tokens < 1) {
      this.refused += 1;
      return false;
    }
    this.#tokens -= 1;
    return true;
  }
}
