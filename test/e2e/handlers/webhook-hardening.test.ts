/**
 * The webhook endpoint under hostile and broken input: property-based (fast-check) over
 * random and malformed requests, then the documented edge cases, then concurrency and a
 * handler killed part-way, all against the real handler and the emulated table.
 */
import { randomBytes } from 'node:crypto';
import { SendTaskSuccessCommand, TaskTimedOut } from '@aws-sdk/client-sfn';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { getRecord, recordCreatedFile } from '#shared/ingest/store';
import { claimSource } from '#shared/ingest/claims';
import { storeTaskToken } from '#shared/ingest/task-token';
import { WAITING_STATUSES, type IngestRecord } from '#shared/ingest/record';
import { signWebhook } from '#shared/videogen/webhooks';
import { MAX_WEBHOOK_BODY_BYTES } from '../../../lambdas/webhook/webhook.ts';
import { receivedRecord, videoGenFile, AT } from '../../fixtures/records.ts';
import { lambdaContext, urlEvent, useWebhookHandler } from '../../helpers/webhook-handler.ts';
import { present } from '../../helpers/present.ts';

const secret = `whsec_${randomBytes(32).toString('base64')}`;
const otherSecret = `whsec_${randomBytes(32).toString('base64')}`;
const suite = useWebhookHandler('hardening', secret);
const { sfn } = suite;
let counter = 0;

/** An ingest waiting for its file, with a task token stored. */
async function waitingIngest(
  token = `token-${counter}`,
): Promise<{ pk: string; fileId: string; token: string }> {
  counter += 1;
  const record = receivedRecord({}, `hard/${counter}.mp4`);
  await claimSource(suite.table().store, record);
  const fileId = `vg_file_hard${counter}`;
  await recordCreatedFile(suite.table().store, record, { fileId, displayName: 'a.mp4', at: AT });
  await storeTaskToken(suite.table().store, record.pk, token, WAITING_STATUSES, AT);
  return { pk: record.pk, fileId, token };
}

function readyEvent(fileId: string, id = `evt_${counter}`): string {
  return JSON.stringify({
    id,
    type: 'file.download_ready',
    createdAt: AT,
    data: { file: videoGenFile(fileId, 'ready') },
  });
}

/** Signs `body` now as message `messageId`, sends it, and answers the status code. */
async function signedStatus(
  body: string,
  messageId: string,
  options: { method?: string } = {},
): Promise<number> {
  const headers = signWebhook(secret, messageId, new Date(), body);
  return (await suite.handler()(urlEvent(body, headers, options), lambdaContext())).statusCode;
}

async function snapshot(pk: string): Promise<IngestRecord | undefined> {
  return getRecord(suite.table().store, pk);
}

describe('property: whatever arrives unsigned or mis-signed', () => {
  it('answers 4xx, never 5xx, and changes nothing (10,000 requests)', async () => {
    const target = await waitingIngest();
    const genuine = readyEvent(target.fileId);
    const before = await snapshot(target.pk);
    const now = Math.floor(Date.now() / 1000);

    const headerValue = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.constant(''),
      fc.integer().map(String),
    );
    const signatureHeader = fc.oneof(
      headerValue,
      fc.base64String().map((value) => `v1,${value}`),
      fc
        .array(
          fc.base64String({ minLength: 4, maxLength: 60 }).map((value) => `v1,${value}`),
          { maxLength: 4 },
        )
        .map((parts) => parts.join(' ')),
      fc.constant(signWebhook(otherSecret, 'msg_x', new Date(), genuine)['webhook-signature']),
    );
    const body = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.json(),
      fc.constant(genuine),
      fc.constant(genuine.replace('READY', 'FAILED')),
      fc.constant(JSON.stringify(JSON.parse(genuine), null, 1)),
      fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes).toString('base64')),
      fc.constant(undefined),
    );
    const request = fc.record({
      method: fc.oneof(fc.constant('POST'), fc.constantFrom('GET', 'PUT', 'DELETE', 'post', 'OPTIONS')),
      body,
      isBase64Encoded: fc.boolean(),
      headers: fc.record(
        {
          'webhook-id': fc.oneof(headerValue, fc.constant('msg_x')),
          'webhook-timestamp': fc.oneof(
            headerValue,
            fc.integer({ min: now - 100_000, max: now + 100_000 }).map(String),
            fc.constant(String(now)),
          ),
          'webhook-signature': signatureHeader,
          'content-type': fc.constantFrom('application/json', 'text/plain', 'application/octet-stream'),
        },
        { requiredKeys: [] },
      ),
    });

    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async ({ method, body: payload, isBase64Encoded, headers }) => {
        const response = await suite.handler()(
          urlEvent(payload, headers, { method, isBase64Encoded }),
          lambdaContext(),
        );
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
        return response.statusCode >= 400 && response.statusCode < 500;
      }),
      { numRuns: 10_000, seed: 20261124 },
    );

    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([401, 405]));
    expect(await snapshot(target.pk)).toEqual(before);
    expect(sfn.calls()).toHaveLength(0);
  }, 120_000);
});

describe('documented answers', () => {
  it('refuses a replay outside the ±300 s window, and a body re-serialized after signing', async () => {
    const { fileId } = await waitingIngest();
    const body = readyEvent(fileId);
    const stale = signWebhook(secret, 'msg_old', new Date(Date.now() - 301_000), body);
    expect((await suite.handler()(urlEvent(body, stale), lambdaContext())).statusCode).toBe(401);
    const fresh = signWebhook(secret, 'msg_new', new Date(), body);
    expect(
      (await suite.handler()(urlEvent(JSON.stringify(JSON.parse(body)), fresh), lambdaContext())).statusCode,
    ).toBe(200);
    expect(
      (
        await suite.handler()(
          urlEvent(JSON.stringify(JSON.parse(body), null, 2), signWebhook(secret, 'msg_p', new Date(), body)),
          lambdaContext(),
        )
      ).statusCode,
    ).toBe(401);
  });

  it('accepts signature headers a proxy joined with ", " when one of them is valid', async () => {
    const { fileId } = await waitingIngest();
    const body = readyEvent(fileId);
    const valid = signWebhook(secret, 'msg_join', new Date(), body);
    const joined = { ...valid, 'webhook-signature': `v1,bm90LXRoaXMtb25l, ${valid['webhook-signature']}` };
    expect((await suite.handler()(urlEvent(body, joined), lambdaContext())).statusCode).toBe(200);
  });

  it('answers 401 without its headers, 413 over 256 KiB, 405 for GET, 400 for a signed non-event', async () => {
    const { fileId } = await waitingIngest();
    const body = readyEvent(fileId);
    expect((await suite.handler()(urlEvent(body, {}), lambdaContext())).statusCode).toBe(401);
    const big = 'x'.repeat(MAX_WEBHOOK_BODY_BYTES + 1);
    expect(await signedStatus(big, 'msg_big')).toBe(413);
    expect(await signedStatus(body, 'msg_get', { method: 'GET' })).toBe(405);
    expect(await signedStatus('{"hello":"world"}', 'msg_ne')).toBe(400);
  });
});

describe('concurrency and crashes', () => {
  it('records the same delivery, sent 50 times at once, once, and resumes the workflow once', async () => {
    const { pk, fileId, token } = await waitingIngest();
    const body = readyEvent(fileId, 'evt_fifty');
    const headers = signWebhook(secret, 'msg_fifty', new Date(), body);
    const before = await snapshot(pk);
    // As Step Functions answers: a token takes one answer, later ones find it gone.
    const answered = new Set<string>();
    sfn.on(SendTaskSuccessCommand).callsFake(({ taskToken }: { taskToken: string }) => {
      if (answered.has(taskToken)) throw new TaskTimedOut({ message: 'Task Timed Out', $metadata: {} });
      answered.add(taskToken);
      return {};
    });

    const answers = await Promise.all(
      Array.from({ length: 50 }, () => suite.handler()(urlEvent(body, headers), lambdaContext())),
    );

    const after = await snapshot(pk);
    expect(answers.map((answer) => answer.statusCode)).toEqual(answers.map(() => 200));
    expect(after?.status).toBe('READY');
    // One change to the record's content (its status and events), and one to drop the answered token.
    expect((after?.version ?? 0) - (before?.version ?? 0)).toBe(2);
    expect([...answered]).toEqual([token]);
    // A later copy finds it recorded: it writes nothing and answers nothing.
    const calls = sfn.commandCalls(SendTaskSuccessCommand).length;
    const retry = await suite.handler()(urlEvent(body, headers), lambdaContext());
    expect(retry.statusCode).toBe(200);
    expect((await snapshot(pk))?.version).toBe(after?.version);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(calls);
  });

  it('finishes the work on redelivery when a handler is killed after its write and before its answer', async () => {
    const { pk, fileId, token } = await waitingIngest();
    const body = readyEvent(fileId, 'evt_killed');
    const headers = signWebhook(secret, 'msg_killed', new Date(), body);
    // The first invocation writes READY, then hangs in SendTaskSuccess until Lambda kills it (1 s left).
    sfn.on(SendTaskSuccessCommand).callsFake(() => new Promise(() => undefined));
    void suite.handler()(urlEvent(body, headers), lambdaContext(1000));
    await expect.poll(async () => (await snapshot(pk))?.status, { timeout: 5000 }).toBe('READY');
    expect((await snapshot(pk))?.taskToken).toBe(token);

    // A redelivery finds the record READY with its token still there, and answers it.
    sfn.reset();
    sfn.on(SendTaskSuccessCommand).resolves({});
    expect(await signedStatus(body, 'msg_killed')).toBe(200);
    expect(sfn.commandCalls(SendTaskSuccessCommand).map((call) => call.args[0].input.taskToken)).toEqual([
      token,
    ]);
    expect(present(await snapshot(pk), 'the record').taskToken).toBeUndefined();
  });

  it('round-trips a 2,048-character task token', async () => {
    const longToken = randomBytes(1536).toString('base64');
    expect(longToken).toHaveLength(2048);
    const { pk, fileId } = await waitingIngest(longToken);
    const body = readyEvent(fileId, 'evt_long');
    expect(await signedStatus(body, 'msg_long')).toBe(200);
    expect(sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input.taskToken).toBe(longToken);
    expect(present(await snapshot(pk), 'the record').taskToken).toBeUndefined();
  });
});
