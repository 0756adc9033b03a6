/**
 * The errors that the same call would meet again, in one place: the workflow never
 * retries them (`MaxAttempts: 0`, by name) and the transfer worker fails its task at once
 * (by class). A test checks that every error class marked not retryable is here.
 */
import { ConfigError } from './config.ts';
import {
  IngestRecordMissingError,
  SourceAccessDeniedError,
  SourceGoneError,
  TransferAttemptsExhaustedError,
  TransferTimeoutError,
  UnexpectedIngestStateError,
  UploadAttemptsExhaustedError,
} from './ingest/errors.ts';
import { InvalidTaskInputError } from './task-input-error.ts';
import {
  UploadUrlExpiredError,
  VideoGenAuthError,
  VideoGenNotFoundError,
  VideoGenResponseError,
  VideoGenValidationError,
} from './videogen/errors.ts';

export const PERMANENT_ERROR_CLASSES = [
  InvalidTaskInputError,
  ConfigError,
  IngestRecordMissingError,
  UnexpectedIngestStateError,
  UploadAttemptsExhaustedError,
  TransferAttemptsExhaustedError,
  SourceGoneError,
  SourceAccessDeniedError,
  TransferTimeoutError,
  VideoGenValidationError,
  VideoGenAuthError,
  VideoGenNotFoundError,
  VideoGenResponseError,
  UploadUrlExpiredError,
] as const;

/** Their names, as Lambda reports them (`errorType`) and Step Functions matches them. */
export const PERMANENT_ERROR_NAMES: readonly string[] = PERMANENT_ERROR_CLASSES.map(
  (type) => new type('probe').name,
);

export function isPermanentError(error: unknown): boolean {
  return PERMANENT_ERROR_CLASSES.some((type) => error instanceof type);
}
