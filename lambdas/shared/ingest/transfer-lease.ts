/**
 * The transfer's lease on an ingest record. SQS delivers a message at least once, and a copy
 * can arrive while its first consumer still works (a throttled start eats the visibility
 * timeout), so two workers may hold the same transfer message. Only the one that holds the
 * lease creates a VideoGen file and sends bytes; the lease lasts until its invocation's time
 * limit, after which Lambda has ended it anyway. Taking the lease is also what counts a real
 * attempt: a delivery that only waited (a rate-limit pause, a lease held elsewhere) is not one.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ingestRecordSchema, PRE_UPLOAD_STATUSES, type IngestRecord } from './record.ts';
import { conditionally, getRecord, statusList, type IngestStore } from './store.ts';

export type LeaseOutcome =
  | { readonly kind: 'acquired'; readonly record: IngestRecord }
  /** Another worker holds it until `untilMs`. */
  | { readonly kind: 'held'; readonly untilMs: number }
  | { readonly kind: 'exhausted'; readonly attempts: number }
  /** The record moved on (uploaded, failed) or is gone: read it again to decide. */
  | { readonly kind: 'moved'; readonly record: IngestRecord | undefined };

export interface LeaseRequest {
  readonly owner: string;
  readonly nowMs: number;
  /** The end of the owner's invocation (its time limit). */
  readonly untilMs: number;
  /** Attempts a source may have; the lease is refused at this many. */
  readonly maxAttempts: number;
  readonly at: string;
}

/** Takes the lease and counts an attempt in one conditional write; the record as it now stands. */
export async function acquireTransferLease(
  store: IngestStore,
  pk: string,
  request: LeaseRequest,
): Promise<LeaseOutcome> {
  const pre = statusList(PRE_UPLOAD_STATUSES, 's');
  let written: Record<string, unknown> | undefined;
  const acquired = await conditionally(async () => {
    const result = await store.client.send(
      new UpdateCommand({
        TableName: store.tableName,
        Key: { pk },
        UpdateExpression:
          'SET transferOwner = :owner, transferLeaseUntil = :until, transferAttempts = if_not_exists(transferAttempts, :zero) + :one, updatedAt = :at, statusChanged = :false, #version = #version + :one',
        ConditionExpression: `${pre.expression} AND (attribute_not_exists(transferLeaseUntil) OR transferLeaseUntil < :now) AND (attribute_not_exists(transferAttempts) OR transferAttempts < :max)`,
        ExpressionAttributeNames: { '#status': 'status', '#version': 'version' },
        ExpressionAttributeValues: {
          ':owner': request.owner,
          ':until': request.untilMs,
          ':now': request.nowMs,
          ':max': request.maxAttempts,
          ':zero': 0,
          ':one': 1,
          ':false': false,
          ':at': request.at,
          ...pre.values,
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    written = result.Attributes;
  });
  if (acquired) return { kind: 'acquired', record: ingestRecordSchema.parse(written) };
  const record = await getRecord(store, pk);
  if (!record || !PRE_UPLOAD_STATUSES.includes(record.status)) return { kind: 'moved', record };
  if ((record.transferAttempts ?? 0) >= request.maxAttempts)
    return { kind: 'exhausted', attempts: record.transferAttempts ?? 0 };
  if (record.transferLeaseUntil !== undefined && record.transferLeaseUntil >= request.nowMs)
    return { kind: 'held', untilMs: record.transferLeaseUntil };
  // Released between the write and the read: the caller tries again on its next delivery.
  return { kind: 'held', untilMs: request.nowMs };
}

/** Gives the lease back after an attempt that did not upload (the next delivery may start at once). */
export async function releaseTransferLease(store: IngestStore, pk: string, owner: string): Promise<void> {
  await conditionally(() =>
    store.client.send(
      new UpdateCommand({
        TableName: store.tableName,
        Key: { pk },
        UpdateExpression:
          'REMOVE transferOwner, transferLeaseUntil SET statusChanged = :false, #version = #version + :one',
        ConditionExpression: 'transferOwner = :owner',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: { ':owner': owner, ':one': 1, ':false': false },
      }),
    ),
  );
}

/**
 * Records that VideoGen holds the bytes of `fileId`: UPLOADED, when, and the lease given
 * back. Only while the record still holds that file and has not ended, so a worker whose
 * file was replaced (or whose workflow gave up) never makes the record name its file.
 */
export function recordUploaded(store: IngestStore, pk: string, fileId: string, at: string): Promise<boolean> {
  const uploading = statusList(['CREATED', 'UPLOADING'], 'u');
  return conditionally(() =>
    store.client.send(
      new UpdateCommand({
        TableName: store.tableName,
        Key: { pk },
        UpdateExpression:
          'SET #status = :uploaded, uploadedAt = :at, updatedAt = :at, statusChanged = :true, #version = #version + :one REMOVE transferOwner, transferLeaseUntil',
        ConditionExpression: `${uploading.expression} AND fileId = :fileId`,
        ExpressionAttributeNames: { '#status': 'status', '#version': 'version' },
        ExpressionAttributeValues: {
          ':uploaded': 'UPLOADED',
          ':true': true,
          ':fileId': fileId,
          ':at': at,
          ':one': 1,
          ...uploading.values,
        },
      }),
    ),
  );
}
