/**
 * What a stream subscriber receives, as Lambda decides it: the synthesized FilterCriteria of
 * `addSubscriber` evaluated (as Lambda evaluates filters) over the stream records a file's
 * whole lifecycle of writes makes, each record's images read from the table before and after
 * the write, as DynamoDB Streams gives them (NEW_AND_OLD_IMAGES).
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubscriberOptions } from '../../lib/videogen-ingest.ts';
import { filtersMatch } from '#local/services/lambda/event-filter';
import type { IngestRecord } from '#shared/ingest/record';
import { advanceStatus, getRecord, recordCreatedFile, saveRecord } from '#shared/ingest/store';
import { claimSource } from '#shared/ingest/claims';
import { clearTaskToken, storeTaskToken } from '#shared/ingest/task-token';
import { acquireTransferLease, recordUploaded } from '#shared/ingest/transfer-lease';
import { receivedRecord } from '../fixtures/records.ts';
import { stackWithSubscriber } from '../helpers/cdk-app.ts';
import { startIngestTable, type TestTable } from '../helpers/ingest-table.ts';

interface StreamRecord {
  eventName: 'INSERT' | 'MODIFY';
  dynamodb: { Keys: object; NewImage?: Record<string, unknown>; OldImage?: Record<string, unknown> };
}

let table: TestTable;
const records: StreamRecord[] = [];
const AT = '2026-12-06T10:00:00.000Z';

/** Runs one write and notes the stream record it makes (none when it changed nothing). */
async function write(pk: string, run: () => Promise<unknown>): Promise<void> {
  const image = async () =>
    (
      await table.raw.send(
        new GetItemCommand({ TableName: table.tableName, Key: { pk: { S: pk } }, ConsistentRead: true }),
      )
    ).Item as Record<string, unknown> | undefined;
  const before = await image();
  await run();
  const after = await image();
  if (JSON.stringify(before) === JSON.stringify(after)) return;
  records.push({
    eventName: before ? 'MODIFY' : 'INSERT',
    dynamodb: {
      Keys: { pk: { S: pk } },
      ...(after ? { NewImage: after } : {}),
      ...(before ? { OldImage: before } : {}),
    },
  });
}

async function current(pk: string): Promise<IngestRecord> {
  const record = await getRecord(table.store, pk);
  if (!record) throw new Error(`no record ${pk}`);
  return record;
}

/** A file's whole life: received, its transfer, the wait, ready, analyzed; and a rejected one. */
async function lifecycle(): Promise<void> {
  const record = receivedRecord({}, 'subscribers/clip.mp4');
  const { pk } = record;
  await write(pk, () => claimSource(table.store, record));
  await write(pk, () =>
    acquireTransferLease(table.store, pk, {
      owner: 'w',
      nowMs: 0,
      untilMs: Date.now() + 60_000,
      maxAttempts: 10,
      at: AT,
    }),
  );
  await write(pk, async () =>
    recordCreatedFile(table.store, await current(pk), {
      fileId: 'vg_file_1',
      displayName: 'clip.mp4',
      at: AT,
    }),
  );
  await write(pk, () => advanceStatus(table.store, pk, ['CREATED'], 'UPLOADING', AT));
  await write(pk, () => recordUploaded(table.store, pk, 'vg_file_1', AT));
  await write(pk, () => storeTaskToken(table.store, pk, 'token', ['UPLOADED'], AT));
  await write(pk, async () => {
    const previous = await current(pk);
    await saveRecord(table.store, previous, {
      ...previous,
      status: 'READY',
      readyAt: AT,
      events: { 'file.download_ready': AT },
    });
  });
  await write(pk, () => clearTaskToken(table.store, pk, 'token'));
  await write(pk, async () => {
    const previous = await current(pk);
    // A later event that changes nothing of the status: more of the file object.
    await saveRecord(table.store, previous, {
      ...previous,
      events: { ...previous.events, 'file.playback_ready': AT },
    });
  });
  await write(pk, async () => {
    const previous = await current(pk);
    await saveRecord(table.store, previous, { ...previous, status: 'ANALYZED' });
  });
  // A file whose analysis was known when the ingest first saw it ready: UPLOADED to ANALYZED.
  const skipping = receivedRecord({}, 'subscribers/poster.png');
  await write(skipping.pk, () => claimSource(table.store, skipping));
  await write(skipping.pk, async () => {
    const previous = await current(skipping.pk);
    await saveRecord(table.store, previous, { ...previous, status: 'UPLOADED', fileId: 'vg_file_2' });
  });
  await write(skipping.pk, async () => {
    const previous = await current(skipping.pk);
    await saveRecord(table.store, previous, { ...previous, status: 'ANALYZED', readyAt: AT });
  });
  const rejected = receivedRecord(
    { status: 'REJECTED', error: { code: 'NOT_MEDIA', message: 'not media' } },
    'subscribers/notes.txt',
  );
  await write(rejected.pk, () => claimSource(table.store, rejected));
}

/** The statuses (new images) of the records a subscription with `options` is delivered. */
function delivered(options?: SubscriberOptions): string[] {
  const { template } = stackWithSubscriber(options);
  const mapping = Object.values(template.findResources('AWS::Lambda::EventSourceMapping')).find((resource) =>
    JSON.stringify(resource).includes('StreamArn'),
  ) as { Properties: { FilterCriteria?: { Filters: { Pattern: string }[] } } } | undefined;
  if (!mapping?.Properties.FilterCriteria) throw new Error('no filtered stream mapping in the template');
  return records
    .filter((record) => filtersMatch(mapping.Properties.FilterCriteria?.Filters, record))
    .map((record) => (record.dynamodb.NewImage?.status as { S: string }).S);
}

beforeAll(async () => {
  table = await startIngestTable('subscriptions');
  await lifecycle();
});
afterAll(() => table.close());

describe('what a stream subscriber receives', () => {
  it('the lifecycles made their writes: fourteen records, ten of them entering a status', () => {
    expect(
      records.map((record) => `${record.eventName} ${(record.dynamodb.NewImage?.status as { S: string }).S}`),
    ).toEqual([
      'INSERT RECEIVED',
      'MODIFY RECEIVED', // the transfer lease
      'MODIFY CREATED',
      'MODIFY UPLOADING',
      'MODIFY UPLOADED',
      'MODIFY UPLOADED', // the task token
      'MODIFY READY',
      'MODIFY READY', // the token cleared
      'MODIFY READY', // another event
      'MODIFY ANALYZED',
      'INSERT RECEIVED', // the file that skips READY
      'MODIFY UPLOADED',
      'MODIFY ANALYZED',
      'INSERT REJECTED',
    ]);
  });

  it('by default: every status change of an ingest record, once each, and nothing else', () => {
    expect(delivered()).toEqual([
      'RECEIVED',
      'CREATED',
      'UPLOADING',
      'UPLOADED',
      'READY',
      'ANALYZED',
      'RECEIVED',
      'UPLOADED',
      'ANALYZED',
      'REJECTED',
    ]);
  });

  it("statuses: ['READY']: exactly one record per file, the one that made it ready, READY or past it", () => {
    expect(delivered({ statuses: ['READY'] })).toEqual(['READY', 'ANALYZED']);
  });

  it('several statuses: each entered once', () => {
    expect(delivered({ statuses: ['UPLOADED', 'ANALYZED', 'FAILED'] })).toEqual([
      'UPLOADED',
      'ANALYZED',
      'UPLOADED',
      'ANALYZED',
    ]);
  });

  it('REJECTED, which a record enters on its insert', () => {
    expect(delivered({ statuses: ['REJECTED'] })).toEqual(['REJECTED']);
  });
});
