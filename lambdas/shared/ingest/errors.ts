/** Ingest errors the workflow routes on by `name`. None is retried: each is final for its source. */

/** The ingest record the workflow works on is not there: a bug or a manual deletion. */
export class IngestRecordMissingError extends Error {
  override readonly name = 'IngestRecordMissingError';
}

/** The record is in a state this step cannot act on (for example, another file was created since). */
export class UnexpectedIngestStateError extends Error {
  override readonly name = 'UnexpectedIngestStateError';
}

/** Every upload URL created for this source expired before its bytes could be sent. */
export class UploadAttemptsExhaustedError extends Error {
  override readonly name = 'UploadAttemptsExhaustedError';
}

/** The source object was deleted or overwritten between Prepare and Transfer. */
export class SourceGoneError extends Error {
  override readonly name = 'SourceGoneError';
}

/** The transfer could not finish within the Lambda's time limit. */
export class TransferTimeoutError extends Error {
  override readonly name = 'TransferTimeoutError';
}

/**
 * The source object is there but this function may not read it: its role lacks
 * `s3:GetObject` (or `kms:Decrypt` for an SSE-KMS bucket), or a bucket policy denies it.
 */
export class SourceAccessDeniedError extends Error {
  override readonly name = 'SourceAccessDeniedError';
}

/**
 * The transfer queue delivered this source's message more times than a transfer may be
 * tried: every attempt crashed or met a transient error.
 */
export class TransferAttemptsExhaustedError extends Error {
  override readonly name = 'TransferAttemptsExhaustedError';
}
