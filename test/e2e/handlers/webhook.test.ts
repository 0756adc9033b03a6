import { randomBytes } from 'node:crypto';
import {
  SendTaskSuccessCommand,
  SFNClient,
  SFNServiceException,
  TaskDoesNotExist,
} from '@aws-sdk/client-sfn';
import { mockAwsClient } from '../../helpers/aws-mocks.ts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  handleDelivery,
  MAX_WEBHOOK_BODY_BYTES,
  respond,
  type RespondDeps,
} from '../../../lambdas/webhook/webhook.ts';
import { getRecord, recordCreatedFile } from '#shared/ingest/store';
import { claimSource } from '#shared/ingest/claims';
import { storeTaskToken } from '#shared/ingest/task-token';
import { WAITING_STATUSES } from '#shared/ingest/record';
import { createWebhookVerifier, signWebhook, type WebhookEvent } from '#shared/videogen/index';
import { receivedRecord, videoGenFile, AT } from '../../fixtures/records.ts';
import { startIngestTable, type TestTable } from '../../helpers/ingest-table.ts';
import { present } from '../../helpers/present.ts';

const sfn = mockAwsClient(SFNClient);
let table: TestTable;
beforeAll(async () => {
  table = await startIngestTable();
});
afterAll(async () => {
  await table.close();
});
beforeEach(() => {
  sfn.reset();
  sfn.on(SendTaskSuccessCommand).resolves({});
});

let counter = 0;
async function waitingIngest(withToken: string | undefined) {
  counter += 1;
  const record = receivedRecord({}, `hook/${counter}.mp4`);
  await claimSource(table.store, record);
  const fileId = `vg_file_hook${counter}`;
  await recordCreatedFile(table.store, record, { fileId, displayName: 'a.mp4', at: AT });
  if (withToken) await storeTaskToken(table.store, record.pk, withToken, WAITING_STATUSES, AT);
  return { pk: record.pk, fileId };
}

function event(fileId: string, type: string, stage: Parameters<typeof videoGenFile>[1]): WebhookEvent {
  return { id: `evt_${type}`, type, createdAt: AT, data: { file: videoGenFile(fileId, stage) } };
}

const deliveryDeps = () => ({ store: table.store, sfn: new SFNClient({}) });

describe('handleDelivery', () => {
  it('records the event and resumes the waiting workflow once the file is ready', async () => {
    const { pk, fileId } = await waitingIngest('token-1');

    const first = await handleDelivery(deliveryDeps(), {
      webhookId: 'w1',
      event: event(fileId, 'file.upload.completed', 'processing'),
      receivedAt: AT,
    });
    expect(first).toEqual({ outcome: 'recorded', status: 'UPLOADED', changed: true, resumed: false });
    expect(sfn.calls()).toHaveLength(0);

    const ready = await handleDelivery(deliveryDeps(), {
      webhookId: 'w2',
      event: event(fileId, 'file.download_ready', 'ready'),
      receivedAt: AT,
    });
    expect(ready).toEqual({ outcome: 'recorded', status: 'READY', changed: true, resumed: true });
    expect(sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input).toEqual({
      taskToken: 'token-1',
      output: JSON.stringify({ outcome: 'READY', status: 'READY' }),
    });
    expect(present(await getRecord(table.store, pk), 'the record').taskToken).toBeUndefined();
  });

  it('tells the drop-to-READY time once, on the delivery that made the file ready', async () => {
    const { fileId } = await waitingIngest('token-latency');
    const readyTimes: number[] = [];
    const deps = { ...deliveryDeps(), onFileReady: (ms: number) => readyTimes.push(ms) };
    const readyAt = new Date(Date.parse(AT) + 90_000).toISOString();
    await handleDelivery(deps, {
      webhookId: 'l1',
      event: event(fileId, 'file.upload.completed', 'processing'),
      receivedAt: readyAt,
    });
    expect(readyTimes).toEqual([]);
    await handleDelivery(deps, {
      webhookId: 'l2',
      event: event(fileId, 'file.download_ready', 'ready'),
      receivedAt: readyAt,
    });
    // A later event on a file already ready is recorded, and not counted again.
    await handleDelivery(deps, {
      webhookId: 'l3',
      event: event(fileId, 'file.playback_ready', 'ready'),
      receivedAt: readyAt,
    });
    expect(readyTimes).toEqual([90_000]);
  });

  it('records a webhook that arrives before the token: nothing to resume, nothing lost', async () => {
    const { pk, fileId } = await waitingIngest(undefined);
    await handleDelivery(deliveryDeps(), {
      webhookId: 'w',
      event: event(fileId, 'file.download_ready', 'ready'),
      receivedAt: AT,
    });
    expect((await getRecord(table.store, pk))?.status).toBe('READY');
    expect(sfn.calls()).toHaveLength(0);
    // The await-file step then finds it READY and resumes the workflow itself (tested there).
    expect(await storeTaskToken(table.store, pk, 'late', WAITING_STATUSES, AT)).toBe(false);
  });

  it('answers unknown-file for a file this deployment did not create, and stores nothing', async () => {
    expect(
      await handleDelivery(deliveryDeps(), {
        webhookId: 'w',
        event: event('vg_file_foreign', 'file.download_ready', 'ready'),
        receivedAt: AT,
      }),
    ).toEqual({
      outcome: 'unknown-file',
    });
  });

  it('treats TaskDoesNotExist as nothing waiting, and lets throttling fail the delivery (VideoGen retries)', async () => {
    const gone = await waitingIngest('token-gone');
    sfn.on(SendTaskSuccessCommand).rejects(new TaskDoesNotExist({ message: 'no', $metadata: {} }));
    await expect(
      handleDelivery(deliveryDeps(), {
        webhookId: 'w',
        event: event(gone.fileId, 'file.download_ready', 'ready'),
        receivedAt: AT,
      }),
    ).resolves.toMatchObject({
      resumed: false,
    });

    const throttled = await waitingIngest('token-throttled');
    sfn.on(SendTaskSuccessCommand).rejects(
      new SFNServiceException({
        name: 'ThrottlingException',
        $fault: 'client',
        message: 'slow down',
        $metadata: {},
      }),
    );
    await expect(
      handleDelivery(deliveryDeps(), {
        webhookId: 'w',
        event: event(throttled.fileId, 'file.download_ready', 'ready'),
        receivedAt: AT,
      }),
    ).rejects.toThrow('slow down');
    // The record is READY and still holds the token, so the redelivery resumes the workflow.
    expect(await getRecord(table.store, throttled.pk)).toMatchObject({
      status: 'READY',
      taskToken: 'token-throttled',
    });
    sfn.on(SendTaskSuccessCommand).resolves({});
    await expect(
      handleDelivery(deliveryDeps(), {
        webhookId: 'w',
        event: event(throttled.fileId, 'file.download_ready', 'ready'),
        receivedAt: AT,
      }),
    ).resolves.toMatchObject({ resumed: true, changed: false });
  });
});

describe('respond (the HTTP contract)', () => {
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const verifier = createWebhookVerifier(secret);
  const body = JSON.stringify(event('vg_file_x', 'file.download_ready', 'ready'));
  const results: { statusCode: number; reason: string }[] = [];
  const processed: string[] = [];
  const deps: RespondDeps = {
    verify: (request) => Promise.resolve(verifier(request)),
    process: (delivery) => {
      processed.push(delivery.webhookId);
      return Promise.resolve({ outcome: 'recorded', status: 'READY', changed: true, resumed: false });
    },
    now: () => AT,
    onResult: (result) => results.push(result),
  };
  const signed = (payload = body) => signWebhook(secret, 'msg_1', new Date(), payload);
  beforeEach(() => {
    results.length = 0;
    processed.length = 0;
  });

  it('answers 200 to a verified delivery, base64 or not', async () => {
    expect((await respond(deps, { method: 'POST', headers: signed(), body })).statusCode).toBe(200);
    expect(
      (
        await respond(deps, {
          method: 'POST',
          headers: signed(),
          body: Buffer.from(body).toString('base64'),
          isBase64Encoded: true,
        })
      ).statusCode,
    ).toBe(200);
    expect(processed).toEqual(['msg_1', 'msg_1']);
  });

  it.each([
    ['GET', () => ({ method: 'GET', headers: signed(), body }), 405],
    [
      'a forged signature',
      () => ({ method: 'POST', headers: signed(body.replace('READY', 'FAILED')), body }),
      401,
    ],
    ['a missing header', () => ({ method: 'POST', headers: { 'webhook-id': 'msg_1' }, body }), 401],
    [
      'a signed non-event',
      () => ({ method: 'POST', headers: signed('{"hello":1}'), body: '{"hello":1}' }),
      400,
    ],
    [
      'an oversized body',
      () => ({ method: 'POST', headers: signed(), body: 'x'.repeat(MAX_WEBHOOK_BODY_BYTES + 1) }),
      413,
    ],
    ['an empty body', () => ({ method: 'POST', headers: signed(), body: '' }), 401],
  ])('answers %s with a 4xx and processes nothing', async (_what, request, status) => {
    const response = await respond(deps, request());
    expect(response.statusCode).toBe(status);
    expect(processed).toEqual([]);
    expect(response.body).not.toMatch(/stack|Error:/);
  });

  it('answers 500 on a failure, without its details, so VideoGen delivers again', async () => {
    const failing = await respond(
      { ...deps, process: () => Promise.reject(new Error('DynamoDB down')) },
      { method: 'POST', headers: signed(), body },
    );
    expect(failing).toMatchObject({ statusCode: 500, body: '{"error":"internal error"}' });
    expect(results.map((result) => result.reason)).toEqual(['error']);
  });
});
