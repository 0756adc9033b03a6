/**
 * VideoGen's rate limit is one for the whole account, so a 429 that one transfer meets is
 * news for all of them: the pause it asks for (`Retry-After`) is kept in one table item,
 * and every transfer reads it before it calls VideoGen. The drain then slows as a whole
 * instead of each worker finding the limit on its own. The item is not an ingest record
 * (`kind` is `api-pause`), so stream subscribers filtering on `kind = ingest` never see it.
 */
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { conditionally, type IngestStore } from './store.ts';

export const API_PAUSE_PK = 'PAUSE#videogen';

/**
 * The instant (ms since the epoch) VideoGen asked everyone to wait until; 0 when no pause is
 * known. Read eventually consistent, at half the cost: a pause written in the last second
 * may be missed, and that worker then meets the 429 itself and waits all the same.
 */
export async function readApiPause(store: IngestStore): Promise<number> {
  const { Item } = await store.client.send(
    new GetCommand({ TableName: store.tableName, Key: { pk: API_PAUSE_PK }, ConsistentRead: false }),
  );
  const until = (Item as { until?: unknown } | undefined)?.until;
  return typeof until === 'number' ? until : 0;
}

/** Moves the shared pause out to `until` (never back: the later of two 429s wins). */
export async function extendApiPause(store: IngestStore, until: number): Promise<void> {
  // A condition that fails means a later pause is there already: nothing to do.
  await conditionally(() =>
    store.client.send(
      new UpdateCommand({
        TableName: store.tableName,
        Key: { pk: API_PAUSE_PK },
        UpdateExpression: 'SET #until = :until, kind = :kind, expiresAt = :expiresAt',
        ConditionExpression: 'attribute_not_exists(#until) OR #until < :until',
        ExpressionAttributeNames: { '#until': 'until' },
        ExpressionAttributeValues: {
          ':until': until,
          ':kind': 'api-pause',
          // TTL in seconds: the item goes a day after its pause is over.
          ':expiresAt': Math.ceil(until / 1000) + 86_400,
        },
      }),
    ),
  );
}
