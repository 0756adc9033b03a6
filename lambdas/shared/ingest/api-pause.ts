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

/** How long an environment trusts a pause it read; a transfer then reads none. */
export const API_PAUSE_KEPT_MS = 5000;

/**
 * One environment's view of the shared pause: a read is kept for `keptMs`, so a steady
 * drain reads the item about once every few seconds per environment instead of once per
 * transfer. A pause another worker writes meanwhile is missed for at most that long: this
 * worker then meets the 429 itself and waits all the same, at the cost of one VideoGen call.
 * What this environment writes it knows at once.
 */
export class ApiPauseView {
  #until = 0;
  #readAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly store: IngestStore,
    private readonly keptMs = API_PAUSE_KEPT_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** The pause's end (epoch ms, 0 when none is known); `fresh` reads the item whatever is kept. */
  async until(options: { readonly fresh?: boolean } = {}): Promise<number> {
    if (options.fresh || this.now() - this.#readAt >= this.keptMs) {
      const readAt = this.now();
      const until = await readApiPause(this.store);
      this.#until = Math.max(until, this.#until > readAt ? this.#until : 0);
      this.#readAt = readAt;
    }
    return this.#until;
  }

  /** Moves the shared pause out to `until`, and this view with it. */
  async extend(until: number): Promise<void> {
    this.#until = Math.max(this.#until, until);
    await extendApiPause(this.store, until);
  }
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
