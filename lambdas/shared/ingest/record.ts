/**
 * The ingest record: one DynamoDB item per source object version, and the contract that
 * downstream stream consumers read (docs/stream-contract.md, "Ingest record"). `schemaVersion` changes only
 * for a breaking change; new optional fields may appear at any time.
 */
import * as z from 'zod/mini';
import { FILE_STATUSES, FILE_TYPES, ANALYSIS_STATUSES } from '../videogen/contract.ts';
import { READINESS_LEVELS } from '../config.ts';

export const INGEST_SCHEMA_VERSION = 1;

/**
 * The table's index by status (partition `status`, sort `updatedAt`): the construct declares
 * it, `videogen-ingest status` reads through it (`status-index.ts`).
 */
export const STATUS_INDEX = 'byStatus';

export const INGEST_STATUSES = [
  'RECEIVED',
  'CREATED',
  'UPLOADING',
  'UPLOADED',
  'READY',
  'ANALYZED',
  'ANALYSIS_FAILED',
  'REJECTED',
  'FAILED',
  'TIMED_OUT',
] as const;
export type IngestStatus = (typeof INGEST_STATUSES)[number];

/** Statuses that end the workflow without a VideoGen file ready to use. */
export const FAILURE_STATUSES: readonly IngestStatus[] = ['REJECTED', 'FAILED', 'TIMED_OUT'];
/**
 * Failures that were not the input's fault: what an operator may retry (`videogen-ingest
 * retry`) and what `run` exits 1 for. A REJECTED file needs a new upload instead.
 */
export const RETRYABLE_STATUSES: readonly IngestStatus[] = ['FAILED', 'TIMED_OUT'];
/** Statuses at or past the configured readiness. */
export const READY_STATUSES: readonly IngestStatus[] = ['READY', 'ANALYZED', 'ANALYSIS_FAILED'];
/** Statuses before the bytes reached VideoGen: the only ones a new upload URL may be created in. */
export const PRE_UPLOAD_STATUSES: readonly IngestStatus[] = ['RECEIVED', 'CREATED', 'UPLOADING'];

/** Whether the record's workflow has yet to end: neither failed nor at its readiness. */
export function isUnfinished(record: Pick<IngestRecord, 'status' | 'readyAt'>): boolean {
  return record.readyAt === null && !FAILURE_STATUSES.includes(record.status);
}

/** While the record is in one of these, the workflow has something to wait for. */
export const WAITING_STATUSES: readonly IngestStatus[] = ['CREATED', 'UPLOADING', 'UPLOADED'];

/** Forward order; statuses only ever move to a higher rank (failures are terminal). */
export const STATUS_RANK: Readonly<Record<IngestStatus, number>> = {
  RECEIVED: 0,
  CREATED: 1,
  UPLOADING: 2,
  UPLOADED: 3,
  READY: 4,
  ANALYZED: 5,
  ANALYSIS_FAILED: 5,
  REJECTED: 9,
  FAILED: 9,
  TIMED_OUT: 9,
};

/** Why a source was rejected or a file failed; `code` is stable, `message` is for people. */
export interface IngestError {
  readonly code: string;
  readonly message: string;
}
export const ingestErrorSchema = z.object({ code: z.string(), message: z.string() });

/**
 * The latest VideoGen file object, with large free-text fields (transcript, long
 * descriptions) left out to keep the item small; `omitted` names what was left out.
 */
export const fileSnapshotSchema = z.looseObject({
  fileId: z.string(),
  status: z.enum(FILE_STATUSES),
  type: z.nullish(z.enum(FILE_TYPES)),
  sources: z.nullish(z.looseObject({ hlsSource: z.nullish(z.string()), downloadUrl: z.nullish(z.string()) })),
  analysis: z.nullish(
    z.looseObject({ status: z.nullish(z.enum(ANALYSIS_STATUSES)), description: z.nullish(z.string()) }),
  ),
  updatedAt: z.nullish(z.string()),
  omitted: z.optional(z.array(z.string())),
});
export type FileSnapshot = z.infer<typeof fileSnapshotSchema>;

export const ingestRecordSchema = z.looseObject({
  pk: z.string().check(z.startsWith('SRC#')),
  kind: z.literal('ingest'),
  schemaVersion: z.literal(INGEST_SCHEMA_VERSION),
  status: z.enum(INGEST_STATUSES),
  bucket: z.string(),
  key: z.string(),
  versionId: z.nullable(z.string()),
  etag: z.string(),
  size: z.int().check(z.nonnegative()),
  /** MIME type sniffed from the first bytes; null when they are not a known format. */
  contentType: z.nullable(z.string()),
  displayName: z.nullable(z.string()),
  type: z.nullable(z.enum(FILE_TYPES)),
  isTemporary: z.boolean(),
  /** The readiness this record was ingested with. */
  readiness: z.enum(READINESS_LEVELS),
  fileId: z.nullable(z.string()),
  /** VideoGen files created for this source and then abandoned (their upload URL expired first). */
  abandonedFileIds: z.array(z.string()),
  /** How many VideoGen files were created for this source. */
  attempts: z.int().check(z.nonnegative()),
  /** Lifecycle event type -> when it was first seen (ISO 8601). */
  events: z.record(z.string(), z.string()),
  file: z.nullable(fileSnapshotSchema),
  executionArn: z.nullable(z.string()),
  error: z.nullable(ingestErrorSchema),
  createdAt: z.string(),
  updatedAt: z.string(),
  readyAt: z.nullable(z.string()),
  /** Optimistic-lock counter; every write bumps it. */
  version: z.int().check(z.nonnegative()),
  /** How many times an operator retried this ingest (`videogen-ingest retry`); absent before the first. */
  retries: z.optional(z.int().check(z.nonnegative())),
  /** The execution a requested retry starts (internal; absent when none is pending). */
  retryExecutionArn: z.optional(z.string()),
  /** The Step Functions task token of a workflow waiting for readiness (internal; absent when none). */
  taskToken: z.optional(z.string()),
  /**
   * Whether the write that made this image changed `status` (an insert counts): what a stream
   * subscriber filters status changes on, since a Lambda filter cannot compare the old image
   * with the new. Absent in items written before it was kept.
   */
  statusChanged: z.optional(z.boolean()),
  /** When VideoGen accepted the bytes: the max wait for readiness counts from here. Absent before UPLOADED. */
  uploadedAt: z.optional(z.string()),
  /** Transfers really started for this source (a worker held the lease); deliveries that waited do not count. */
  transferAttempts: z.optional(z.int().check(z.nonnegative())),
  /** The transfer worker sending this source now (internal; absent when none). */
  transferOwner: z.optional(z.string()),
  /** Until when (epoch ms) `transferOwner` holds the transfer: its invocation's time limit. */
  transferLeaseUntil: z.optional(z.number()),
});
export type IngestRecord = z.infer<typeof ingestRecordSchema>;

/** `FILE#<fileId>` -> the source's `pk`, so a webhook finds its ingest. */
export const filePointerSchema = z.object({
  pk: z.string().check(z.startsWith('FILE#')),
  kind: z.literal('file-pointer'),
  sourcePk: z.string(),
  createdAt: z.string(),
});
export type FilePointer = z.infer<typeof filePointerSchema>;

/** Where a source object lives; the unit of ingest. */
export interface SourceRef {
  readonly bucket: string;
  readonly key: string;
  /** Null in a bucket without versioning. */
  readonly versionId: string | null;
  readonly etag: string;
}

/** `SRC#<bucket>/<key>#<versionId or etag>`: one ingest per object version. */
export function sourcePk(source: SourceRef): string {
  return `SRC#${source.bucket}/${source.key}#${source.versionId ?? source.etag}`;
}

export function filePk(fileId: string): string {
  return `FILE#${fileId}`;
}
