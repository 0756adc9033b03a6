import { errorBodySchema } from './contract.ts';
import {
  UploadUrlExpiredError,
  VideoGenAuthError,
  VideoGenNotFoundError,
  VideoGenRateLimitedError,
  VideoGenServerError,
  VideoGenValidationError,
  type VideoGenError,
} from './errors.ts';

/** When a 429 carries no usable `Retry-After`, wait this long. */
export const DEFAULT_RETRY_AFTER_SECONDS = 1;

/** `Retry-After` is either delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(header: string | null | undefined, now = Date.now()): number {
  if (header === null || header === undefined || header.trim() === '') return DEFAULT_RETRY_AFTER_SECONDS;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return DEFAULT_RETRY_AFTER_SECONDS;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

/** Reads `{ error: { code, message } }` when the body has that shape; a short text excerpt otherwise. */
function describeBody(body: string): { code: string | undefined; message: string | undefined } {
  try {
    const parsed = errorBodySchema.safeParse(JSON.parse(body));
    if (parsed.success) return { code: parsed.data.error.code, message: parsed.data.error.message };
  } catch {
    // Not JSON: S3-style XML or plain text. Fall through.
  }
  const xmlCode = /<Code>([^<]{1,100})<\/Code>/.exec(body)?.[1];
  const xmlMessage = /<Message>([^<]{1,300})<\/Message>/.exec(body)?.[1];
  return { code: xmlCode, message: xmlMessage ?? (body.trim().slice(0, 200) || undefined) };
}

export interface FailedAnswer {
  /** What was called, for the message: `POST /v1/files/upload`, or a redacted upload URL. */
  readonly what: string;
  readonly status: number;
  readonly body: string;
  readonly retryAfter: string | null | undefined;
  /** The presigned upload URL answers 403 when it has expired; the API answers 403 for auth. */
  readonly isUpload: boolean;
}

/** Maps a non-2xx answer to its typed error. */
export function errorFromAnswer(answer: FailedAnswer): VideoGenError {
  const { code, message } = describeBody(answer.body);
  const details = { status: answer.status, ...(code === undefined ? {} : { code }) };
  const text = `${answer.what} answered ${answer.status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}`;
  const { status } = answer;
  if (status === 429 || (answer.isUpload && status === 503 && code === 'SlowDown')) {
    return new VideoGenRateLimitedError(text, parseRetryAfter(answer.retryAfter), details);
  }
  if (status >= 500) return new VideoGenServerError(text, details);
  if (answer.isUpload && status === 403) return new UploadUrlExpiredError(text, details);
  if (status === 401 || status === 403) return new VideoGenAuthError(text, details);
  if (status === 404) return new VideoGenNotFoundError(text, details);
  return new VideoGenValidationError(text, details);
}

/** A presigned URL's query string is a credential: keep it out of messages and logs. */
export function redactUrl(url: string | URL): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}${parsed.search ? '?<redacted>' : ''}`;
  } catch {
    return '<invalid URL>';
  }
}
