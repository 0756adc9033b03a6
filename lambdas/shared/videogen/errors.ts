/**
 * Typed VideoGen errors. Each sets `name`, which Lambda reports as the error type, so
 * Step Functions can `Retry`/`Catch` on it (`"ErrorEquals": ["VideoGenRateLimitedError"]`).
 * Messages never carry the API key or a presigned URL's query string.
 */

export interface VideoGenErrorDetails {
  /** HTTP status of the answer, when there was one. */
  readonly status?: number;
  /** `error.code` of the answer's body, when it had one. */
  readonly code?: string;
  readonly cause?: unknown;
}

export abstract class VideoGenError extends Error {
  /** Whether the same call may succeed if made again later. */
  abstract readonly retryable: boolean;
  readonly status: number | undefined;
  readonly code: string | undefined;

  constructor(message: string, details: VideoGenErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.status = details.status;
    this.code = details.code;
  }
}

/** 429: slow down and try again after `retryAfterSeconds`. */
export class VideoGenRateLimitedError extends VideoGenError {
  override readonly name = 'VideoGenRateLimitedError';
  readonly retryable = true;
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    details: VideoGenErrorDetails = {},
  ) {
    super(message, details);
  }
}

/** 5xx: VideoGen (or the storage behind the upload URL) failed; transient. */
export class VideoGenServerError extends VideoGenError {
  override readonly name = 'VideoGenServerError';
  readonly retryable = true;
}

/** No answer: connection refused or reset, DNS, or the call's timeout ran out; transient. */
export class VideoGenNetworkError extends VideoGenError {
  override readonly name = 'VideoGenNetworkError';
  readonly retryable = true;
}

/** 400 and other 4xx not listed below: the request itself is wrong; never retried. */
export class VideoGenValidationError extends VideoGenError {
  override readonly name = 'VideoGenValidationError';
  readonly retryable = false;
}

/** 401/403 from the API: the API key is missing, wrong or revoked; never retried. */
export class VideoGenAuthError extends VideoGenError {
  override readonly name = 'VideoGenAuthError';
  readonly retryable = false;
}

/** 404: no such file or webhook endpoint. */
export class VideoGenNotFoundError extends VideoGenError {
  override readonly name = 'VideoGenNotFoundError';
  readonly retryable = false;
}

/** 403 from the presigned upload URL: it expired; create the file again for a fresh URL. */
export class UploadUrlExpiredError extends VideoGenError {
  override readonly name = 'UploadUrlExpiredError';
  readonly retryable = false;
}

/** An answer that does not match the contract in `contract.ts`: the API changed; never retried. */
export class VideoGenResponseError extends VideoGenError {
  override readonly name = 'VideoGenResponseError';
  readonly retryable = false;
}

/**
 * The upload's *source* failed (its stream errored, or it held a different number of
 * bytes than declared). Nothing is wrong with VideoGen: retry with a fresh source stream.
 */
export class SourceStreamError extends VideoGenError {
  override readonly name = 'SourceStreamError';
  readonly retryable = true;
}
