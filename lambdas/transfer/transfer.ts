import type { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { withRetries, type RetryOptions } from '#shared/retry';
import {
  IngestRecordMissingError,
  SourceGoneError,
  TransferTimeoutError,
  UnexpectedIngestStateError,
} from '#shared/ingest/errors';
import { STATUS_RANK, type IngestRecord } from '#shared/ingest/record';
import { advanceStatus, ConcurrentUpdateError, getRecord, type IngestStore } from '#shared/ingest/store';
import { recordUploaded } from '#shared/ingest/transfer-lease';
import type { uploadToPresignedUrl } from '#shared/videogen/upload';
import { classifySourceReadError } from '#shared/ingest/source-read';

export interface TransferDeps {
  readonly s3: S3Client;
  readonly store: IngestStore;
  readonly upload: typeof uploadToPresignedUrl;
  readonly now: () => string;
  /** Aborted shortly before the Lambda's own time runs out. */
  readonly signal?: AbortSignal;
  readonly retry?: RetryOptions;
}

export interface TransferInput {
  readonly pk: string;
  readonly fileId: string;
  readonly uploadUrl: string;
  /** The record as the caller just wrote it, with this file: saves a read. @default read */
  readonly record?: IngestRecord;
}

export interface TransferOutput {
  readonly fileId: string;
  readonly bytes: number;
  /** False when an earlier attempt had already delivered the bytes. */
  readonly sent: boolean;
  /** When VideoGen accepted the bytes (ISO 8601): the workflow's max wait for readiness counts from here. */
  readonly uploadedAt: string;
}

/**
 * Streams the source object from S3 to the presigned URL: one GetObject body piped into
 * one PUT with `Content-Length`, so memory stays constant whatever the size. Each retry
 * opens a fresh GetObject stream. Errors keep their names for the workflow: an expired
 * URL goes back to Create, transient ones are retried, the rest fail the ingest.
 */
export async function transfer(deps: TransferDeps, input: TransferInput): Promise<TransferOutput> {
  const record = input.record ?? (await getRecord(deps.store, input.pk));
  if (!record) throw new IngestRecordMissingError(`no ingest record ${input.pk}`);
  if (record.fileId !== input.fileId) {
    throw new UnexpectedIngestStateError(
      `${input.pk} now belongs to file ${record.fileId ?? 'none'}, not ${input.fileId}`,
    );
  }
  if (STATUS_RANK[record.status] >= STATUS_RANK.UPLOADED) {
    // A previous attempt's PUT went through (VideoGen said so) before that attempt could answer.
    return { fileId: input.fileId, bytes: record.size, sent: false, uploadedAt: uploadedAtOf(record) };
  }
  await advanceStatus(deps.store, input.pk, ['CREATED'], 'UPLOADING', deps.now(), { fileId: input.fileId });

  const openSource = async (): Promise<Readable> => {
    try {
      const { Body } = await deps.s3.send(
        new GetObjectCommand({
          Bucket: record.bucket,
          Key: record.key,
          ...(record.versionId ? { VersionId: record.versionId } : { IfMatch: `"${record.etag}"` }),
        }),
        deps.signal ? { abortSignal: deps.signal } : {},
      );
      if (!Body) throw new SourceGoneError(`s3://${record.bucket}/${record.key} has no body`);
      return Body as Readable;
    } catch (error) {
      if (!(await classifySourceReadError(deps.s3, record, error))) throw error;
      throw new SourceGoneError(
        `s3://${record.bucket}/${record.key} was deleted or overwritten before its transfer`,
        { cause: error },
      );
    }
  };

  try {
    const result = await withRetries(
      async () =>
        deps.upload({
          url: input.uploadUrl,
          body: await openSource(),
          contentLength: record.size,
          ...(deps.signal ? { signal: deps.signal } : {}),
        }),
      deps.retry,
    );
    const uploadedAt = deps.now();
    if (!(await recordUploaded(deps.store, input.pk, input.fileId, uploadedAt))) {
      // A webhook recorded the upload first (fine), or the record let go of this file while
      // the bytes went: never answer the workflow with a file the record does not hold.
      const now = await getRecord(deps.store, input.pk);
      if (now?.fileId !== input.fileId) {
        // Transient for this message: its next delivery answers with the file the record holds.
        throw new ConcurrentUpdateError(
          `${input.pk} now belongs to file ${now?.fileId ?? 'none'}, not ${input.fileId}, whose bytes were just sent`,
        );
      }
      return {
        fileId: input.fileId,
        bytes: result.bytesSent,
        sent: true,
        uploadedAt: uploadedAtOf(now, uploadedAt),
      };
    }
    return { fileId: input.fileId, bytes: result.bytesSent, sent: true, uploadedAt };
  } catch (error) {
    if (deps.signal?.aborted) {
      throw new TransferTimeoutError(
        `the transfer of ${record.size} bytes did not finish within the Lambda's time limit`,
        {
          cause: error,
        },
      );
    }
    throw error;
  }
}

/**
 * When a record's bytes reached VideoGen: as the worker recorded it, else as VideoGen's
 * `file.upload.completed` told it, else `fallback` (the record's last write).
 */
export function uploadedAtOf(record: IngestRecord, fallback = record.updatedAt): string {
  return record.uploadedAt ?? record.events['file.upload.completed'] ?? fallback;
}
