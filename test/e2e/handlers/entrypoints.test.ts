import { randomBytes } from 'node:crypto';
import { SendTaskSuccessCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockAwsClient } from '../../helpers/aws-mocks.ts';
import type { Context, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { getRecord, recordCreatedFile } from '#shared/ingest/store';
import { claimSource } from '#shared/ingest/claims';
import { storeTaskToken } from '#shared/ingest/task-token';
import { WAITING_STATUSES } from '#shared/ingest/record';
import { signWebhook } from '#shared/videogen/webhooks';
import { receivedRecord, videoGenFile, AT } from '../../fixtures/records.ts';
import { objectCreated } from '../../fixtures/s3-events.ts';
import type { WorkflowInput } from '../../../lambdas/starter/starter.ts';
import { urlEvent, useWebhookHandler } from '../../helpers/webhook-handler.ts';

const context = {
  functionName: 'fn',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;

describe('handlers fail their cold start on missing configuration, naming it', () => {
  beforeEach(() => {
    vi.resetModules();
    vi.unstubAllEnvs();
  });

  it.each([
    ['prepare', /TABLE_NAME/],
    ['transfer', /TABLE_NAME/],
    ['await-file', /TABLE_NAME/],
    ['poll', /MAX_WAIT_SECONDS/],
    ['record-failure', /READINESS/],
    ['starter', /STATE_MACHINE_ARN/],
    ['webhook', /WEBHOOK_SECRET/],
    ['register-webhook', /VIDEOGEN_API_KEY_SECRET/],
  ])('%s', async (name, variable) => {
    for (const key of [
      'TABLE_NAME',
      'VIDEOGEN_API_URL',
      'VIDEOGEN_API_KEY_SECRET',
      'MAX_WAIT_SECONDS',
      'READINESS',
      'STATE_MACHINE_ARN',
      'WEBHOOK_SECRET',
    ]) {
      vi.stubEnv(key, undefined);
    }
    await expect(import(`../../../lambdas/${name}/handler.ts`)).rejects.toThrow(variable);
  });
});

describe('webhook handler, end to end on the emulated table', () => {
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const suite = useWebhookHandler('webhook-handler', secret);
  const { sfn } = suite;

  it('records a delivery once and resumes the workflow once, however often it is delivered', async () => {
    const record = receivedRecord({}, 'entry/clip.mp4');
    await claimSource(suite.table().store, record);
    await recordCreatedFile(suite.table().store, record, {
      fileId: 'vg_file_entry',
      displayName: 'a.mp4',
      at: AT,
    });
    await storeTaskToken(suite.table().store, record.pk, 'token-entry', WAITING_STATUSES, AT);
    const body = JSON.stringify({
      id: 'evt_1',
      type: 'file.download_ready',
      createdAt: AT,
      data: { file: videoGenFile('vg_file_entry', 'ready') },
    });
    const headers = signWebhook(secret, 'msg_entry', new Date(), body);

    const answers = [];
    for (let copy = 0; copy < 3; copy += 1)
      answers.push((await suite.handler()(urlEvent(body, headers), context)).statusCode);

    expect(answers).toEqual([200, 200, 200]);
    expect(await getRecord(suite.table().store, record.pk)).toMatchObject({
      status: 'READY',
      events: { 'file.download_ready': expect.any(String) },
    });
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
  });

  it('answers 401 to a forged delivery and changes nothing', async () => {
    const body = JSON.stringify({
      id: 'evt_2',
      type: 'file.download_ready',
      createdAt: AT,
      data: { file: videoGenFile('vg_file_entry', 'ready') },
    });
    const forged = signWebhook(`whsec_${randomBytes(24).toString('base64')}`, 'msg_forged', new Date(), body);
    expect((await suite.handler()(urlEvent(body, forged), context)).statusCode).toBe(401);
    expect((await suite.handler()(urlEvent(body, forged, { method: 'GET' }), context)).statusCode).toBe(405);
  });
});

describe('starter handler', () => {
  const sfn = mockAwsClient(SFNClient);
  beforeAll(() => {
    vi.stubEnv('STATE_MACHINE_ARN', 'arn:aws:states:us-east-1:123456789012:stateMachine:sm');
    vi.stubEnv('DROP_SUFFIXES', '.mp4');
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
  });
  afterAll(() => {
    vi.unstubAllEnvs();
  });

  it('starts every record of a batch and reports only the malformed one as failed', async () => {
    sfn.reset();
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec' });
    vi.resetModules();
    const { handler } = await import('../../../lambdas/starter/handler.ts');
    const record = (messageId: string, body: string) => ({ messageId, body }) as SQSEvent['Records'][number];
    const event = {
      Records: [
        record('m1', JSON.stringify(objectCreated('a.mp4'))),
        record('m2', '{"not":"an event"}'),
        record('m3', JSON.stringify(objectCreated('notes.txt'))),
        record('m4', JSON.stringify(objectCreated('b.MP4'))),
      ].map((entry) => ({ ...entry, eventSource: 'aws:sqs' })),
    };

    const response = await handler(event, context);

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm2' }]);
    expect(
      sfn
        .commandCalls(StartExecutionCommand)
        .map((call) => (JSON.parse(call.args[0].input.input ?? '{}') as WorkflowInput).source.key),
    ).toEqual(['a.mp4', 'b.MP4']);
  });
});
