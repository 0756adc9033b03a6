import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  advanceStatus,
  ConcurrentUpdateError,
  findSourceOfFile,
  getRecord,
  recordCreatedFile,
  saveRecord,
  type IngestStore,
} from '#shared/ingest/store';
import { claimSource, requestRetry } from '#shared/ingest/claims';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { clearTaskToken, storeTaskToken } from '#shared/ingest/task-token';
import { WAITING_STATUSES } from '#shared/ingest/record';
import { receivedRecord, videoGenFile, AT } from '../../fixtures/records.ts';
import { recordObservation } from '#shared/ingest/observe';
import { startIngestTable, type TestTable } from '../../helpers/ingest-table.ts';
import { present } from '../../helpers/present.ts';

let table: TestTable;
beforeAll(async () => {
  table = await startIngestTable();
});
afterAll(async () => {
  await table.close();
});

let counter = 0;
async function claimed(overrides = {}) {
  counter += 1;
  const record = receivedRecord(overrides, `store/${counter}.mp4`);
  expect(await claimSource(table.store, record)).toBe(true);
  return record;
}

describe('ingest store against the DynamoDB emulator', () => {
  it("claims a source once: another execution's claim is a duplicate", async () => {
    const record = await claimed();
    const other = { ...record, executionArn: `${record.executionArn ?? ''}-other`, createdAt: 'later' };
    expect(await claimSource(table.store, other)).toBe(false);
    // As written, an insert marked as entering its status.
    expect(await getRecord(table.store, record.pk)).toEqual({ ...record, statusChanged: true });
  });

  it("answers a retried step's second claim as its own, not as a duplicate", async () => {
    const record = await claimed();
    expect(await claimSource(table.store, record)).toBe(true);
    expect(await getRecord(table.store, record.pk)).toEqual({ ...record, statusChanged: true });
  });

  it('lets the execution an operator retry started replace a FAILED record, keeping its VideoGen file', async () => {
    const record = await claimed();
    await recordCreatedFile(table.store, record, { fileId: 'vg_file_retry1', displayName: 'a.mp4', at: AT });
    const failure = { code: 'PROCESSING_FAILED', message: 'VideoGen could not process the file' };
    expect(await advanceStatus(table.store, record.pk, ['CREATED'], 'FAILED', AT, { error: failure })).toBe(
      true,
    );
    const failed = present(await getRecord(table.store, record.pk), 'the failed record');
    const retryArn = 'arn:aws:states:us-east-1:123456789012:execution:sm:retry-1';
    expect(await claimSource(table.store, { ...record, executionArn: retryArn })).toBe(false);
    expect(await requestRetry(table.store, failed, retryArn, AT)).toBe(true);
    // Asked twice with the old version: the second loses.
    expect(await requestRetry(table.store, failed, retryArn, AT)).toBe(false);

    expect(await claimSource(table.store, { ...record, executionArn: retryArn })).toBe(true);
    const replaced = await getRecord(table.store, record.pk);
    // The file stays the record's, CREATED, for the transfer to adopt (bytes at VideoGen) or abandon.
    expect(replaced).toMatchObject({
      status: 'CREATED',
      executionArn: retryArn,
      fileId: 'vg_file_retry1',
      attempts: 1,
      error: null,
      retries: 1,
      abandonedFileIds: [],
    });
    expect(replaced?.retryExecutionArn).toBeUndefined();
  });

  it('takes a FAILED record over for its retry even when a late VideoGen event writes it meanwhile', async () => {
    const record = await claimed();
    await recordCreatedFile(table.store, record, { fileId: 'vg_file_late1', displayName: 'a.mp4', at: AT });
    await advanceStatus(table.store, record.pk, ['CREATED'], 'FAILED', AT);
    const failed = present(await getRecord(table.store, record.pk), 'the failed record');
    const retryArn = 'arn:aws:states:us-east-1:123456789012:execution:sm:retry-late';
    expect(await requestRetry(table.store, failed, retryArn, AT)).toBe(true);

    // The retry's Prepare reads the record; an event lands before its Put (the file's bytes
    // arrived after it failed, and VideoGen reports on them).
    let interfered = false;
    const racing: IngestStore = {
      tableName: table.tableName,
      client: new Proxy(table.store.client, {
        get: (client, property, receiver) =>
          property === 'send'
            ? async (command: Parameters<typeof client.send>[0]) => {
                if (
                  !interfered &&
                  command instanceof PutCommand &&
                  String(command.input.ConditionExpression).includes('retryExecutionArn')
                ) {
                  interfered = true;
                  const current = present(await getRecord(table.store, record.pk), 'the record');
                  await saveRecord(table.store, current, {
                    ...current,
                    events: { 'file.upload.completed': AT },
                  });
                }
                return client.send(command as never);
              }
            : (Reflect.get(client, property, receiver) as unknown),
      }),
    };
    expect(await claimSource(racing, { ...record, executionArn: retryArn })).toBe(true);
    expect(interfered).toBe(true);
    expect(await getRecord(table.store, record.pk)).toMatchObject({
      status: 'CREATED',
      executionArn: retryArn,
      fileId: 'vg_file_late1',
      retries: 1,
    });
  });

  it('retries only FAILED and TIMED_OUT records', async () => {
    const record = await claimed();
    expect(await requestRetry(table.store, record, 'arn:x', AT)).toBe(false);
    expect(present(await getRecord(table.store, record.pk), 'the record').retryExecutionArn).toBeUndefined();
  });

  it('records a created file and its pointer in one transaction', async () => {
    const record = await claimed();

    const written = await recordCreatedFile(table.store, record, {
      fileId: 'vg_file_tx1',
      displayName: 'a.mp4',
      at: AT,
    });

    expect(written).toMatchObject({ status: 'CREATED', fileId: 'vg_file_tx1', attempts: 1, version: 1 });
    // The record it answers is the one stored, field for field, a replaced file's too.
    expect(await getRecord(table.store, record.pk)).toEqual(written);
    expect(await findSourceOfFile(table.store, 'vg_file_tx1')).toBe(record.pk);
    const replaced = await recordCreatedFile(table.store, written, {
      fileId: 'vg_file_tx1b',
      displayName: 'a.mp4',
      at: AT,
    });
    expect(replaced).toMatchObject({ abandonedFileIds: ['vg_file_tx1'], attempts: 2, version: 2 });
    expect(await getRecord(table.store, record.pk)).toEqual(replaced);
  });

  it('writes neither item nor pointer when the record changed since it was read', async () => {
    const record = await claimed();
    await recordCreatedFile(table.store, record, { fileId: 'vg_file_tx2', displayName: 'a.mp4', at: AT });

    // A racing Create that read attempts = 0 loses, and leaves no pointer behind.
    await expect(
      recordCreatedFile(table.store, record, { fileId: 'vg_file_tx3', displayName: 'a.mp4', at: AT }),
    ).rejects.toBeInstanceOf(ConcurrentUpdateError);
    expect(await findSourceOfFile(table.store, 'vg_file_tx3')).toBeUndefined();
    expect(await getRecord(table.store, record.pk)).toMatchObject({ fileId: 'vg_file_tx2', attempts: 1 });
  });

  it('rolls the item back when the pointer already exists', async () => {
    const first = await claimed();
    const second = await claimed();
    await recordCreatedFile(table.store, first, { fileId: 'vg_file_taken', displayName: 'a.mp4', at: AT });

    await expect(
      recordCreatedFile(table.store, second, { fileId: 'vg_file_taken', displayName: 'b.mp4', at: AT }),
    ).rejects.toBeInstanceOf(ConcurrentUpdateError);
    expect(await getRecord(table.store, second.pk)).toEqual({ ...second, statusChanged: true });
    expect(await findSourceOfFile(table.store, 'vg_file_taken')).toBe(first.pk);
  });

  it('records the previous file as abandoned when a new one replaces it', async () => {
    const record = await claimed();
    await recordCreatedFile(table.store, record, { fileId: 'vg_file_old', displayName: 'a.mp4', at: AT });
    const afterFirst = present(await getRecord(table.store, record.pk), 'the record');

    await recordCreatedFile(table.store, afterFirst, { fileId: 'vg_file_new', displayName: 'a.mp4', at: AT });

    expect(await getRecord(table.store, record.pk)).toMatchObject({
      fileId: 'vg_file_new',
      abandonedFileIds: ['vg_file_old'],
      attempts: 2,
    });
  });

  it('advances a status only from the allowed ones', async () => {
    const record = await claimed({ status: 'UPLOADED' });
    expect(await advanceStatus(table.store, record.pk, ['CREATED', 'UPLOADING'], 'UPLOADED', AT)).toBe(false);
    expect(
      await advanceStatus(table.store, record.pk, WAITING_STATUSES, 'TIMED_OUT', AT, {
        error: { code: 'TIMED_OUT', message: 'm' },
      }),
    ).toBe(true);
    expect(await getRecord(table.store, record.pk)).toMatchObject({
      status: 'TIMED_OUT',
      error: { code: 'TIMED_OUT' },
      version: 1,
    });
  });

  it('saves a record only if nobody wrote since it was read', async () => {
    const record = await claimed();
    await saveRecord(table.store, record, { ...record, status: 'UPLOADED' });
    const refused = await saveRecord(table.store, record, { ...record, status: 'READY' }).catch(
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(ConcurrentUpdateError);
    // The refusal carries the record that won, for the retry.
    expect((refused as ConcurrentUpdateError).current).toEqual(await getRecord(table.store, record.pk));
    expect(await getRecord(table.store, record.pk)).toMatchObject({ status: 'UPLOADED', version: 1 });
  });

  it('applies an observation that lost a race to the record that won it, reading that one from the refusal', async () => {
    const record = await claimed({ status: 'UPLOADED', fileId: 'vg_file_race' });
    const sent: string[] = [];
    let raced = false;
    const client = new Proxy(table.store.client, {
      get(target, property, receiver) {
        if (property !== 'send') return Reflect.get(target, property, receiver) as unknown;
        return async (command: { constructor: { name: string } }) => {
          sent.push(command.constructor.name);
          if (command.constructor.name === 'PutCommand' && !raced) {
            // Another writer gets there between this read and this write: AwaitFile storing its token.
            raced = true;
            await storeTaskToken(table.store, record.pk, 'token-race', WAITING_STATUSES, AT);
          }
          return target.send(command as never);
        };
      },
    });
    const observed = await recordObservation({ ...table.store, client }, record.pk, {
      eventType: 'file.download_ready',
      file: videoGenFile('vg_file_race', 'ready'),
      at: AT,
    });
    expect(sent).toEqual(['GetCommand', 'PutCommand', 'PutCommand']);
    expect(observed.record).toMatchObject({ status: 'READY', taskToken: 'token-race', version: 2 });
    expect(await getRecord(table.store, record.pk)).toMatchObject({
      status: 'READY',
      taskToken: 'token-race',
    });
  });

  it('stores a task token only while waiting, keeps it across saves, and clears only its own', async () => {
    const waiting = await claimed({ status: 'UPLOADED' });
    const ready = await claimed({ status: 'READY' });
    expect(await storeTaskToken(table.store, ready.pk, 'token-r', WAITING_STATUSES, AT)).toBe(false);
    expect(await storeTaskToken(table.store, waiting.pk, 'token-1', WAITING_STATUSES, AT)).toBe(true);

    const withToken = present(await getRecord(table.store, waiting.pk), 'the record');
    expect(withToken.taskToken).toBe('token-1');
    await saveRecord(table.store, withToken, { ...withToken, status: 'READY', taskToken: undefined });
    expect((await getRecord(table.store, waiting.pk))?.taskToken).toBe('token-1');

    await clearTaskToken(table.store, waiting.pk, 'token-0');
    expect((await getRecord(table.store, waiting.pk))?.taskToken).toBe('token-1');
    await clearTaskToken(table.store, waiting.pk, 'token-1');
    expect(present(await getRecord(table.store, waiting.pk), 'the record').taskToken).toBeUndefined();
  });
});
