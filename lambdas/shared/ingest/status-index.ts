/**
 * The reads through the table's `byStatus` index (`STATUS_INDEX`, declared by the
 * construct), which `videogen-ingest status` makes.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import {
  INGEST_STATUSES,
  ingestRecordSchema,
  STATUS_INDEX,
  type IngestRecord,
  type IngestStatus,
} from './record.ts';
import type { IngestStore } from './store.ts';

export { STATUS_INDEX } from './record.ts';

function byStatus(store: IngestStore, status: IngestStatus, since: string | undefined) {
  return {
    TableName: store.tableName,
    IndexName: STATUS_INDEX,
    KeyConditionExpression: since ? '#status = :status AND updatedAt >= :since' : '#status = :status',
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: { ':status': status, ...(since ? { ':since': since } : {}) },
  };
}

/** Up to `limit` records in `status` (changed since `since`, ISO 8601), newest change first, page after page. */
export async function recordsInStatus(
  store: IngestStore,
  status: IngestStatus,
  options: { since?: string; limit: number },
): Promise<IngestRecord[]> {
  const records: IngestRecord[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await store.client.send(
      new QueryCommand({
        ...byStatus(store, status, options.since),
        ScanIndexForward: false,
        Limit: options.limit - records.length,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    for (const item of page.Items ?? []) {
      if (item.kind === 'ingest') records.push(ingestRecordSchema.parse(item));
    }
    start = page.LastEvaluatedKey;
  } while (start && records.length < options.limit);
  return records;
}

/** How many records are in `status` (changed since `since`): counted page by page, as a Query counts 1 MB at a time. */
export async function countInStatus(
  store: IngestStore,
  status: IngestStatus,
  options: { since?: string } = {},
): Promise<number> {
  let total = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await store.client.send(
      new QueryCommand({
        ...byStatus(store, status, options.since),
        Select: 'COUNT',
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    total += page.Count ?? 0;
    start = page.LastEvaluatedKey;
  } while (start);
  return total;
}

/** Every record changed at or after `since` (ISO 8601), whatever its status: what a live view polls. */
export async function recordsChangedSince(store: IngestStore, since: string): Promise<IngestRecord[]> {
  const pages = await Promise.all(
    INGEST_STATUSES.map(async (status) => {
      const records: IngestRecord[] = [];
      let start: Record<string, unknown> | undefined;
      do {
        const page = await store.client.send(
          new QueryCommand({
            ...byStatus(store, status, since),
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
        for (const item of page.Items ?? [])
          if (item.kind === 'ingest') records.push(ingestRecordSchema.parse(item));
        start = page.LastEvaluatedKey;
      } while (start);
      return records;
    }),
  );
  return pages.flat();
}
