/**
 * In-Lambda retries for VideoGen calls. Step Functions `Retry` cannot read a 429's
 * `Retry-After`, so the handler honours it here first, within its own time budget, and
 * lets the workflow's backoff take over only when the budget runs out.
 */
import { VideoGenError, VideoGenRateLimitedError } from './videogen/errors.ts';

export interface RetryOptions {
  /** Calls in all, the first included. @default 3 */
  readonly attempts?: number;
  /** Full-jitter exponential backoff base for 5xx and network errors. @default 200 */
  readonly baseDelayMs?: number;
  /** @default 5000 */
  readonly maxDelayMs?: number;
  /** Milliseconds this invocation may still spend waiting; a wait that does not fit is not taken. */
  readonly budgetMs?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /** Told about each retry, for logs and metrics. */
  readonly onRetry?: (error: VideoGenError, attempt: number, delayMs: number) => void;
}

export const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The wait before the next attempt: `Retry-After` for a 429 (plus a little jitter), full jitter otherwise. */
export function retryDelayMs(error: VideoGenError, attempt: number, options: RetryOptions = {}): number {
  const random = options.random ?? Math.random;
  if (error instanceof VideoGenRateLimitedError) {
    return error.retryAfterSeconds * 1000 + Math.floor(random() * 250);
  }
  const cap = Math.min(options.maxDelayMs ?? 5000, (options.baseDelayMs ?? 200) * 2 ** (attempt - 1));
  return Math.floor(random() * cap);
}

/** Calls `operation` until it succeeds, fails with a non-retryable error, or attempts or budget run out. */
export async function withRetries<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 3;
  const sleep = options.sleep ?? defaultSleep;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (!(error instanceof VideoGenError) || !error.retryable || attempt >= attempts) throw error;
      const delay = retryDelayMs(error, attempt, options);
      if (options.budgetMs && delay > options.budgetMs()) throw error;
      options.onRetry?.(error, attempt, delay);
      await sleep(delay);
    }
  }
}
