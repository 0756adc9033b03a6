import type { Readiness } from '../config.ts';
import type { FileType } from '../videogen/contract.ts';
import {
  INGEST_SCHEMA_VERSION,
  sourcePk,
  type IngestError,
  type IngestRecord,
  type SourceRef,
} from './record.ts';

export interface NewRecordInput {
  readonly source: SourceRef;
  readonly size: number;
  readonly contentType: string | null;
  readonly displayName: string | null;
  readonly type: FileType | null;
  readonly isTemporary: boolean;
  readonly readiness: Readiness;
  readonly executionArn: string | null;
  readonly at: string;
  /** Set for a rejected source: the record is born `REJECTED` with this reason. */
  readonly rejection?: IngestError;
}

/** A fresh ingest record, `RECEIVED` (or `REJECTED` with its reason). */
export function newIngestRecord(input: NewRecordInput): IngestRecord {
  return {
    pk: sourcePk(input.source),
    kind: 'ingest',
    schemaVersion: INGEST_SCHEMA_VERSION,
    status: input.rejection ? 'REJECTED' : 'RECEIVED',
    bucket: input.source.bucket,
    key: input.source.key,
    versionId: input.source.versionId,
    etag: input.source.etag,
    size: input.size,
    contentType: input.contentType,
    displayName: input.displayName,
    type: input.type,
    isTemporary: input.isTemporary,
    readiness: input.readiness,
    fileId: null,
    abandonedFileIds: [],
    attempts: 0,
    events: {},
    file: null,
    executionArn: input.executionArn,
    error: input.rejection ?? null,
    createdAt: input.at,
    updatedAt: input.at,
    readyAt: null,
    version: 0,
  };
}
