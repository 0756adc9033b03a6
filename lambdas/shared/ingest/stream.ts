/**
 * Reading the table's stream as a downstream consumer: each DynamoDB stream record becomes
 * the ingest record before and after the change, parsed with the published schema. Items
 * that are not ingest records (file pointers, webhook dedupe entries) are skipped.
 */
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue as StreamAttributeValue, DynamoDBRecord } from 'aws-lambda';
import { INGEST_SCHEMA_VERSION, READY_STATUSES, ingestRecordSchema, type IngestRecord } from './record.ts';

/** An ingest item in the stream did not match this schema version: upgrade the consumer. */
export class IngestRecordSchemaError extends Error {
  override readonly name = 'IngestRecordSchemaError';
}

export interface IngestChange {
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  /** The stream's sequence number: the batch item identifier for partial batch failures. */
  readonly sequenceNumber: string;
  /** The record before the change; undefined for an INSERT. */
  readonly previous: IngestRecord | undefined;
  /** The record after the change; undefined for a REMOVE (TTL expiry). */
  readonly current: IngestRecord | undefined;
}

function parseImage(
  image: Record<string, StreamAttributeValue> | undefined,
  at: string,
): IngestRecord | 'not-ingest' | undefined {
  if (!image) return undefined;
  // The Lambda event's AttributeValue type and the SDK's are the same JSON, typed apart.
  const item = unmarshall(image as Parameters<typeof unmarshall>[0]);
  if (item.kind !== 'ingest') return 'not-ingest';
  const parsed = ingestRecordSchema.safeParse(item);
  if (!parsed.success) {
    const version = item.schemaVersion as unknown;
    throw new IngestRecordSchemaError(
      version === INGEST_SCHEMA_VERSION
        ? `${at}: not a valid ingest record: ${parsed.error.issues.map((issue) => `${issue.path.map(String).join('.')}: ${issue.message}`).join('; ')}`
        : `${at}: ingest record schemaVersion ${String(version)}, this consumer reads ${INGEST_SCHEMA_VERSION}`,
    );
  }
  return parsed.data;
}

/** The change a stream record carries, or undefined when it is not about an ingest record. */
export function ingestChangeOf(record: DynamoDBRecord): IngestChange | undefined {
  const { eventName, dynamodb } = record;
  if (!eventName || !dynamodb?.SequenceNumber) {
    throw new IngestRecordSchemaError('not a DynamoDB stream record (no eventName or SequenceNumber)');
  }
  const at = `stream record ${dynamodb.SequenceNumber}`;
  const previous = parseImage(dynamodb.OldImage, at);
  const current = parseImage(dynamodb.NewImage, at);
  if (previous === 'not-ingest' || current === 'not-ingest') return undefined;
  if (!previous && !current) {
    throw new IngestRecordSchemaError(`${at}: no images; the stream must be NEW_AND_OLD_IMAGES`);
  }
  return { eventName, sequenceNumber: dynamodb.SequenceNumber, previous, current };
}

/**
 * Whether the change made the file ready: its first record at READY, ANALYZED or
 * ANALYSIS_FAILED (a file whose analysis was known when the ingest first saw it ready goes
 * from UPLOADED straight past READY).
 */
export function becameReady(change: IngestChange): boolean {
  const isReady = (record: IngestRecord | undefined) =>
    record !== undefined && READY_STATUSES.includes(record.status);
  return isReady(change.current) && !isReady(change.previous);
}

/** Whether the change moved the record into `status` (rather than changing it while there). */
export function entered(change: IngestChange, status: IngestRecord['status']): boolean {
  return change.current?.status === status && change.previous?.status !== status;
}
