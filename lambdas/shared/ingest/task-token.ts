/**
 * The waiting workflow's task token on its ingest record: stored while the file is not
 * ready, so the webhook handler can resume the workflow, and cleared once answered. Writes
 * that change no status (`statusChanged: false`).
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { IngestStatus } from './record.ts';
import { conditionally, statusList, type IngestStore } from './store.ts';

/**
 * Stores the waiting workflow's task token, only while the file is not yet ready and
 * has not failed. `false` means it already is: the caller resumes the workflow itself,
 * so a webhook that came first is never lost.
 */
export async function storeTaskToken(
  store: IngestStore,
  pk: string,
  taskToken: string,
  waitingStatuses: readonly IngestStatus[],
  at: string,
): Promise<boolean> {
  const waiting = statusList(waitingStatuses, 'w');
  return conditionally(() =>
    store.client.send(
      new UpdateCommand({
        TableName: store.tableName,
        Key: { pk },
        UpdateExpression:
          'SET taskToken = :token, updatedAt = :at, statusChanged = :false, #version = #version + :one',
        ConditionExpression: waiting.expression,
        ExpressionAttributeNames: { '#status': 'status', '#version': 'version' },
        ExpressionAttributeValues: {
          ':token': taskToken,
          ':at': at,
          ':one': 1,
          ':false': false,
          ...waiting.values,
        },
      }),
    ),
  );
}

/** Removes a task token once answered, unless a newer wait already replaced it; any token when `taskToken` is undefined. */
export async function clearTaskToken(
  store: IngestStore,
  pk: string,
  taskToken: string | undefined,
): Promise<void> {
  await conditionally(() =>
    store.client.send(
      new UpdateCommand({
        TableName: store.tableName,
        Key: { pk },
        UpdateExpression: 'REMOVE taskToken SET statusChanged = :false, #version = #version + :one',
        ConditionExpression: taskToken === undefined ? 'attribute_exists(taskToken)' : 'taskToken = :token',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: {
          ':one': 1,
          ':false': false,
          ...(taskToken === undefined ? {} : { ':token': taskToken }),
        },
      }),
    ),
  );
}
