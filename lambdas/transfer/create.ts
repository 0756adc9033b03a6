import { withRetries, type RetryOptions } from '#shared/retry';
import {
  IngestRecordMissingError,
  UnexpectedIngestStateError,
  UploadAttemptsExhaustedError,
} from '#shared/ingest/errors';
import { PRE_UPLOAD_STATUSES, type IngestRecord } from '#shared/ingest/record';
import { getRecord, recordCreatedFile, type IngestStore } from '#shared/ingest/store';
import type { VideoGenClient } from '#shared/videogen/client';

export interface CreateDeps {
  readonly store: IngestStore;
  readonly videoGen: () => Promise<VideoGenClient>;
  /** VideoGen files one source may get; each later one replaces a file whose upload URL expired. */
  readonly maxAttempts: number;
  readonly now: () => string;
  readonly retry?: RetryOptions;
}

export interface CreateOutput {
  readonly fileId: string;
  readonly uploadUrl: string;
  /** The record with this file recorded, for the transfer that follows. */
  readonly record: IngestRecord;
}

/**
 * `POST /v1/files/upload` for the source, then the ingest item and its `FILE#` pointer
 * in one transaction, before any byte moves. Called again after an expired upload URL
 * or an attempt that was cut off, it creates a fresh file and records the previous one as
 * abandoned, at most `maxAttempts` times. `record`: the record as the caller just read or
 * wrote it (the transfer lease's write), saving a read.
 */
export async function createVideoGenFile(
  deps: CreateDeps,
  input: { readonly pk: string; readonly record?: IngestRecord },
): Promise<CreateOutput> {
  const record = input.record ?? (await getRecord(deps.store, input.pk));
  if (!record) throw new IngestRecordMissingError(`no ingest record ${input.pk}`);
  if (!PRE_UPLOAD_STATUSES.includes(record.status)) {
    throw new UnexpectedIngestStateError(`cannot create a file for ${input.pk} in status ${record.status}`);
  }
  if (record.attempts >= deps.maxAttempts) {
    throw new UploadAttemptsExhaustedError(
      `created ${record.attempts} VideoGen files for this source and none received its bytes (each upload URL expired, or its attempt was cut off)`,
    );
  }
  if (!record.displayName) throw new UnexpectedIngestStateError(`${input.pk} has no display name`);
  const client = await deps.videoGen();
  const created = await withRetries(
    () =>
      client.createFile({
        displayName: record.displayName ?? '',
        ...(record.type ? { type: record.type } : {}),
        isTemporary: record.isTemporary,
      }),
    deps.retry,
  );
  const written = await recordCreatedFile(deps.store, record, {
    fileId: created.fileId,
    displayName: record.displayName,
    at: deps.now(),
  });
  return { fileId: created.fileId, uploadUrl: created.uploadUrl, record: written };
}
