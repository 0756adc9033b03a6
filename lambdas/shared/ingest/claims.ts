/**
 * Claims of a source in the ingest table: the first execution's, and the take-over of a
 * record by the execution an operator's retry (or a resume of a lost workflow) started.
 */
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ingestRecordSchema, isUnfinished, RETRYABLE_STATUSES, type IngestRecord } from './record.ts';
import { conditionally, getRecord, statusList, type IngestStore } from './store.ts';

/**
 * Writes a new record for its source; `false` means a duplicate. Also `true` when the
 * record is this very execution's (an earlier attempt of the step wrote it, then died
 * before answering), and when an operator's retry started this execution: then the FAILED
 * or TIMED_OUT record is replaced, its VideoGen file kept for the transfer to adopt or abandon.
 */
export async function claimSource(store: IngestStore, record: IngestRecord): Promise<boolean> {
  const item = ingestRecordSchema.parse({ ...record, statusChanged: true });
  const created = await conditionally(() =>
    store.client.send(
      new PutCommand({
        TableName: store.tableName,
        Item: item,
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    ),
  );
  if (created || record.executionArn === null) return created;
  // A take-over loses to a write between its read and its Put (VideoGen's late events still
  // enrich a FAILED record): read again and retry while the record is still marked for this
  // execution, so an operator's retry is never lost to an event.
  for (let conflict = 0; conflict < MAX_TAKE_OVER_CONFLICTS; conflict += 1) {
    const existing = await getRecord(store, record.pk);
    if (!existing) return false;
    if (existing.executionArn === record.executionArn) return true;
    if (existing.retryExecutionArn !== record.executionArn) return false;
    if (await takeOver(store, takenOver(existing, record, item), existing.version)) return true;
  }
  return false;
}

/** Take-overs of one record that may lose to concurrent writes before the claim gives up. */
const MAX_TAKE_OVER_CONFLICTS = 8;

/** The record an execution marked to take `existing` over (a retry's or a resume's) puts. */
function takenOver(existing: IngestRecord, record: IngestRecord, item: IngestRecord): IngestRecord {
  if (isUnfinished(existing) && record.status === 'RECEIVED') {
    // A resumed workflow (its execution was lost: a local runtime stopped mid-way) takes the
    // record over as it stands: the VideoGen file, bytes sent and events seen stay, so the
    // steps that follow pick up where the lost execution stopped. (A Put, as every claim:
    // Prepare may put records, not update them.)
    const { retryExecutionArn: _retry, taskToken: _token, ...kept } = existing;
    return {
      ...kept,
      statusChanged: false,
      executionArn: record.executionArn,
      updatedAt: record.updatedAt,
      version: existing.version + 1,
    };
  }
  // The failed attempt's VideoGen file stays the record's, CREATED: the transfer asks
  // VideoGen whether it holds the bytes (a transfer that finished after its wait in the
  // queue timed out) and adopts it, sending nothing twice; otherwise it creates a new file
  // and records this one abandoned.
  const replacement: IngestRecord = {
    ...item,
    ...(existing.fileId ? { status: 'CREATED', fileId: existing.fileId, attempts: 1 } : {}),
    retries: (existing.retries ?? 0) + 1,
    abandonedFileIds: existing.abandonedFileIds,
    version: existing.version + 1,
  };
  replacement.statusChanged = replacement.status !== existing.status;
  return replacement;
}

/** Puts `record` over the one at `version` that was marked for its execution (a retry's or a resume's). */
function takeOver(store: IngestStore, record: IngestRecord, version: number): Promise<boolean> {
  return conditionally(() =>
    store.client.send(
      new PutCommand({
        TableName: store.tableName,
        Item: record,
        ConditionExpression: 'retryExecutionArn = :execution AND #version = :version',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: { ':execution': record.executionArn, ':version': version },
      }),
    ),
  );
}

/**
 * Marks a FAILED or TIMED_OUT record as retried by `executionArn` (started next), so that
 * execution's Prepare may replace it. `false` when the record is not (or no longer) retryable.
 */
export function requestRetry(
  store: IngestStore,
  record: Pick<IngestRecord, 'pk' | 'version'>,
  executionArn: string,
  at: string,
): Promise<boolean> {
  return markForTakeOver(store, record, executionArn, at, statusList(RETRYABLE_STATUSES, 's'));
}

/**
 * Marks an unfinished record (its workflow lost: a local runtime stopped mid-way) as taken
 * over by `executionArn` (started next), whose Prepare then continues it as it stands.
 * `false` when the record changed since it was read (its workflow is alive after all).
 */
export function requestResume(
  store: IngestStore,
  record: Pick<IngestRecord, 'pk' | 'version'>,
  executionArn: string,
  at: string,
): Promise<boolean> {
  return markForTakeOver(store, record, executionArn, at);
}

/** Sets `retryExecutionArn` if the record is still at `version` (and in `statuses`, when given). */
function markForTakeOver(
  store: IngestStore,
  record: Pick<IngestRecord, 'pk' | 'version'>,
  executionArn: string,
  at: string,
  statuses?: ReturnType<typeof statusList>,
): Promise<boolean> {
  return conditionally(() =>
    store.client.send(
      new UpdateCommand({
        TableName: store.tableName,
        Key: { pk: record.pk },
        UpdateExpression:
          'SET retryExecutionArn = :execution, updatedAt = :at, statusChanged = :false, #version = #version + :one',
        ConditionExpression: statuses
          ? `${statuses.expression} AND #version = :version`
          : '#version = :version',
        ExpressionAttributeNames: { '#version': 'version', ...(statuses ? { '#status': 'status' } : {}) },
        ExpressionAttributeValues: {
          ...statuses?.values,
          ':execution': executionArn,
          ':at': at,
          ':one': 1,
          ':false': false,
          ':version': record.version,
        },
      }),
    ),
  );
}
