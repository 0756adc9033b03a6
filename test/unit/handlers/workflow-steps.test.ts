import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  S3Client,
} from '@aws-sdk/client-s3';
import { SendTaskSuccessCommand, SFNClient, TaskTimedOut } from '@aws-sdk/client-sfn';
import { sdkStreamMixin } from '@smithy/util-stream';
import { mockAwsClient } from '../../helpers/aws-mocks.ts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { awaitFile } from '../../../lambdas/await-file/await-file.ts';
import { createVideoGenFile } from '../../../lambdas/transfer/create.ts';
import { poll } from '../../../lambdas/poll/poll.ts';
import { prepare } from '../../../lambdas/prepare/prepare.ts';
import { recordFailure } from '../../../lambdas/record-failure/record-failure.ts';
import { transfer } from '../../../lambdas/transfer/transfer.ts';
import { claimSource, getRecord, findSourceOfFile, storeTaskToken } from '#shared/ingest/store';
import { WAITING_STATUSES, type IngestRecord } from '#shared/ingest/record';
import { VideoGenClient, uploadToPresignedUrl, UploadUrlExpiredError } from '#shared/videogen/index';
import { VideoGenSimulator } from '#local/simulator/simulator';
import { mp4, png, text } from '#local/media';
import { receivedRecord, AT } from '../../fixtures/records.ts';
import { s3Error } from '../../fixtures/s3-errors.ts';
import type { TestTable } from '../../helpers/ingest-table.ts';
import { startStepBackends, type StepBackends } from '../../helpers/step-backends.ts';

const s3 = mockAwsClient(S3Client);
const sfn = mockAwsClient(SFNClient);
let table: TestTable;
let sim: VideoGenSimulator;
let client: VideoGenClient;
const now = () => AT;
const noWait = { sleep: () => Promise.resolve(), random: () => 0 };

let backends: StepBackends;
beforeAll(async () => {
  backends = await startStepBackends();
  ({ table, sim, client } = backends);
});
afterAll(() => backends.close());
beforeEach(() => {
  s3.reset();
  sfn.reset();
  sim.faults.clear();
});

function objectBody(bytes: Buffer) {
  return sdkStreamMixin(Readable.from([bytes]));
}

function s3Object(bytes: Buffer, metadata: Record<string, string> = {}, versionId = 'v1') {
  s3.on(HeadObjectCommand).resolves({
    ContentLength: bytes.length,
    ETag: '"etag1"',
    VersionId: versionId,
    Metadata: metadata,
  });
  s3.on(GetObjectCommand).callsFake(() => ({ Body: objectBody(bytes.subarray(0, 4100)) }));
}

let keys = 0;
function source(key = `drop/${(keys += 1)}.bin`) {
  return { source: { bucket: 'drop', key, versionId: 'v1', etag: 'etag1' }, executionArn: 'arn:exec' };
}

const prepareDeps = () => ({
  s3: new S3Client({}),
  store: table.store,
  readiness: 'download' as const,
  maxFileBytes: 1_000_000,
  now,
});

describe('Prepare', () => {
  it('accepts media, typed by its bytes whatever the extension, and claims it RECEIVED', async () => {
    s3Object(png(), { 'videogen-display-name': '=?UTF-8?B?w6l0w6kucG5n?=' });
    const input = source('drop/holiday photo.mp4');

    const output = await prepare(prepareDeps(), input);

    expect(output).toEqual({ outcome: 'ACCEPTED', pk: 'SRC#drop/drop/holiday photo.mp4#v1' });
    expect(await getRecord(table.store, output.pk)).toMatchObject({
      status: 'RECEIVED',
      type: 'IMAGE',
      contentType: 'image/png',
      displayName: 'été.png',
      isTemporary: false,
      size: png().length,
    });
  });

  it('reads the temporary option, and stops a source another execution claimed as a duplicate', async () => {
    s3Object(mp4(), { 'videogen-temporary': 'TRUE' });
    const input = source();
    const accepted = await prepare(prepareDeps(), input);
    expect(accepted.outcome).toBe('ACCEPTED');
    expect(await getRecord(table.store, accepted.pk)).toMatchObject({ isTemporary: true });
    // The same execution's Prepare again (its first attempt died after the write): still its own.
    expect((await prepare(prepareDeps(), input)).outcome).toBe('ACCEPTED');
    const otherExecution = { ...input, executionArn: `${input.executionArn}-other` };
    expect((await prepare(prepareDeps(), otherExecution)).outcome).toBe('DUPLICATE');
  });

  it.each([
    ['an empty object', Buffer.alloc(0), {}, 'EMPTY'],
    ['text', text(), {}, 'NOT_MEDIA'],
    ['an object over the limit', Buffer.concat([mp4(), Buffer.alloc(1_000_001)]), {}, 'TOO_LARGE'],
    ['a malformed option', png(), { 'videogen-temporary': 'yes' }, 'INVALID_OPTIONS'],
  ])('records %s REJECTED with its reason, and sends nothing', async (_what, bytes, metadata, code) => {
    s3Object(bytes, metadata);
    const requestsBefore = sim.requests().length;

    const output = await prepare(prepareDeps(), source());

    expect(output).toMatchObject({ outcome: 'REJECTED', error: { code } });
    expect(await getRecord(table.store, output.pk)).toMatchObject({ status: 'REJECTED', error: { code } });
    expect(sim.requests()).toHaveLength(requestsBefore);
  });

  it('records a source deleted before Prepare as REJECTED SOURCE_GONE', async () => {
    s3.on(HeadObjectCommand).rejects(new NoSuchKey({ message: 'gone', $metadata: { httpStatusCode: 404 } }));
    const output = await prepare(prepareDeps(), source());
    expect(output).toMatchObject({ outcome: 'REJECTED', error: { code: 'SOURCE_GONE' } });
  });

  it('records a source deleted before Prepare as REJECTED SOURCE_GONE when S3 answers 403 for it', async () => {
    s3.on(HeadObjectCommand).rejects(s3Error(403, 'Forbidden'));
    s3.on(ListObjectsV2Command).resolves({ KeyCount: 0 });
    const output = await prepare(prepareDeps(), source());
    expect(output).toMatchObject({ outcome: 'REJECTED', error: { code: 'SOURCE_GONE' } });
  });

  it('lets a transient S3 error through for the workflow to retry', async () => {
    s3.on(HeadObjectCommand).rejects(s3Error(500, 'InternalError', 'boom'));
    await expect(prepare(prepareDeps(), source())).rejects.toThrow('boom');
  });
});

async function acceptedRecord(key?: string, overrides: Partial<IngestRecord> = {}) {
  const record = receivedRecord(overrides, key ?? `steps/${(keys += 1)}.mp4`);
  await claimSource(table.store, record);
  return record;
}

const createDeps = (maxAttempts = 3) => ({
  store: table.store,
  videoGen: () => Promise.resolve(client),
  maxAttempts,
  now,
  retry: noWait,
});

describe('Create', () => {
  it('creates the VideoGen file with the record’s options and records it with its pointer', async () => {
    const record = await acceptedRecord();

    const output = await createVideoGenFile(createDeps(), { pk: record.pk });

    expect(sim.file(output.fileId)?.file).toMatchObject({
      displayName: 'a.mp4',
      type: 'VIDEO',
      isTemporary: false,
    });
    expect(await getRecord(table.store, record.pk)).toMatchObject({
      status: 'CREATED',
      fileId: output.fileId,
      attempts: 1,
    });
    expect(await findSourceOfFile(table.store, output.fileId)).toBe(record.pk);
  });

  it('honours a 429 and retries in the Lambda, then succeeds', async () => {
    sim.faults.add({ fault: 'rate_limit', on: 'create', nth: 1, retryAfterSeconds: 0 });
    const record = await acceptedRecord();
    await expect(createVideoGenFile(createDeps(), { pk: record.pk })).resolves.toHaveProperty('fileId');
    expect(
      sim
        .requests()
        .filter((request) => request.op === 'create')
        .slice(-2)
        .map((request) => request.status),
    ).toEqual([429, 201]);
  });

  it('refuses a further file once every earlier upload URL expired maxAttempts times', async () => {
    const record = await acceptedRecord();
    await createVideoGenFile(createDeps(2), { pk: record.pk });
    await createVideoGenFile(createDeps(2), { pk: record.pk });
    await expect(createVideoGenFile(createDeps(2), { pk: record.pk })).rejects.toMatchObject({
      name: 'UploadAttemptsExhaustedError',
    });
    expect((await getRecord(table.store, record.pk))?.abandonedFileIds).toHaveLength(1);
  });

  it('fails with VideoGenAuthError (not retried by the workflow) on a bad key', async () => {
    const strict = await VideoGenSimulator.start({ apiKey: 'right' });
    try {
      const record = await acceptedRecord();
      const wrong = new VideoGenClient({ baseUrl: strict.url, apiKey: 'wrong' });
      await expect(
        createVideoGenFile({ ...createDeps(), videoGen: () => Promise.resolve(wrong) }, { pk: record.pk }),
      ).rejects.toMatchObject({
        name: 'VideoGenAuthError',
      });
      expect((await getRecord(table.store, record.pk))?.status).toBe('RECEIVED');
    } finally {
      await strict.close();
    }
  });
});

describe('Transfer', () => {
  const transferDeps = () => ({
    s3: new S3Client({}),
    store: table.store,
    upload: uploadToPresignedUrl,
    now,
    retry: noWait,
  });

  async function createdFor(bytes: Buffer) {
    const record = await acceptedRecord(undefined, { size: bytes.length });
    const created = await createVideoGenFile(createDeps(), { pk: record.pk });
    return { record, created };
  }

  it('streams the object to VideoGen and records UPLOADED; the URL leaves the output', async () => {
    const bytes = mp4(200_000);
    s3.on(GetObjectCommand).callsFake(() => ({ Body: objectBody(bytes) }));
    const { record, created } = await createdFor(bytes);

    const output = await transfer(transferDeps(), { pk: record.pk, ...created });

    expect(output).toEqual({ fileId: created.fileId, bytes: bytes.length, sent: true });
    expect(sim.file(created.fileId)?.received?.bytes).toBe(bytes.length);
    expect((await getRecord(table.store, record.pk))?.status).toBe('UPLOADED');
    expect(s3.commandCalls(GetObjectCommand)[0]?.args[0].input).toMatchObject({
      Bucket: 'drop',
      VersionId: 'v1',
    });
  });

  it('retries with a fresh source stream after a 5xx from the upload URL', async () => {
    const bytes = png();
    s3.on(GetObjectCommand).callsFake(() => ({ Body: objectBody(bytes) }));
    sim.faults.add({ fault: 'server_error', on: 'put', nth: 1 });
    const { record, created } = await createdFor(bytes);

    await transfer(transferDeps(), { pk: record.pk, ...created });

    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(2);
    expect(
      sim
        .uploads()
        .filter((upload) => upload.fileId === created.fileId)
        .map((upload) => upload.status),
    ).toEqual([500, 200]);
  });

  it('passes an expired URL up as UploadUrlExpiredError for the workflow to create again', async () => {
    const bytes = png();
    s3.on(GetObjectCommand).callsFake(() => ({ Body: objectBody(bytes) }));
    sim.faults.add({ fault: 'expire_url', nth: 1 });
    const { record, created } = await createdFor(bytes);

    await expect(transfer(transferDeps(), { pk: record.pk, ...created })).rejects.toBeInstanceOf(
      UploadUrlExpiredError,
    );
    expect((await getRecord(table.store, record.pk))?.status).toBe('UPLOADING');
  });

  it('answers SourceGoneError when the object was deleted before its transfer', async () => {
    s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'gone', $metadata: { httpStatusCode: 404 } }));
    const { record, created } = await createdFor(png());
    await expect(transfer(transferDeps(), { pk: record.pk, ...created })).rejects.toMatchObject({
      name: 'SourceGoneError',
    });
  });

  it('answers SourceGoneError when the object was overwritten before its transfer (If-Match fails)', async () => {
    s3.on(GetObjectCommand).rejects(s3Error(412, 'PreconditionFailed', 'changed'));
    const { record, created } = await createdFor(png());
    await expect(transfer(transferDeps(), { pk: record.pk, ...created })).rejects.toMatchObject({
      name: 'SourceGoneError',
    });
  });

  it('retries with a fresh stream when the source stream breaks mid-upload', async () => {
    const bytes = mp4(300_000);
    let opened = 0;
    s3.on(GetObjectCommand).callsFake(() => {
      opened += 1;
      if (opened > 1) return { Body: objectBody(bytes) };
      const broken = new Readable({
        read() {
          this.push(bytes.subarray(0, 65_536));
          this.destroy(new Error('socket hang up (S3)'));
        },
      });
      return { Body: sdkStreamMixin(broken) };
    });
    const { record, created } = await createdFor(bytes);

    await expect(transfer(transferDeps(), { pk: record.pk, ...created })).resolves.toMatchObject({
      sent: true,
    });

    expect(opened).toBe(2);
    // The broken PUT was aborted (never stored); the fresh stream's PUT stored every byte.
    expect(
      sim.uploads().filter((upload) => upload.fileId === created.fileId && upload.outcome === 'stored'),
    ).toHaveLength(1);
    expect(sim.file(created.fileId)?.received?.bytes).toBe(bytes.length);
  });

  it('does not send twice when VideoGen already has the bytes', async () => {
    const bytes = png();
    s3.on(GetObjectCommand).callsFake(() => ({ Body: objectBody(bytes) }));
    const { record, created } = await createdFor(bytes);
    await transfer(transferDeps(), { pk: record.pk, ...created });
    const again = await transfer(transferDeps(), { pk: record.pk, ...created });
    expect(again.sent).toBe(false);
    expect(sim.uploads().filter((upload) => upload.fileId === created.fileId)).toHaveLength(1);
  });
});

describe('WaitForFile (await-file)', () => {
  it('stores the token while the file is not ready', async () => {
    const record = await acceptedRecord();
    await createVideoGenFile(createDeps(), { pk: record.pk });
    expect(
      await awaitFile(
        { store: table.store, sfn: new SFNClient({}), now },
        { pk: record.pk, taskToken: 'tok' },
      ),
    ).toEqual({ stored: true });
    expect((await getRecord(table.store, record.pk))?.taskToken).toBe('tok');
    expect(sfn.calls()).toHaveLength(0);
  });

  it('resumes the workflow itself when the webhook got there first', async () => {
    const record = receivedRecord({ status: 'READY' }, `steps/${(keys += 1)}.mp4`);
    await claimSource(table.store, record);
    sfn.on(SendTaskSuccessCommand).resolves({});

    expect(
      await awaitFile(
        { store: table.store, sfn: new SFNClient({}), now },
        { pk: record.pk, taskToken: 'tok' },
      ),
    ).toEqual({ stored: false });
    expect(sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input).toEqual({
      taskToken: 'tok',
      output: JSON.stringify({ outcome: 'READY', status: 'READY' }),
    });
  });

  it('treats a token whose wait already ended as answered', async () => {
    const record = receivedRecord({ status: 'FAILED' }, `steps/${(keys += 1)}.mp4`);
    await claimSource(table.store, record);
    sfn.on(SendTaskSuccessCommand).rejects(new TaskTimedOut({ message: 'timed out', $metadata: {} }));
    await expect(
      awaitFile({ store: table.store, sfn: new SFNClient({}), now }, { pk: record.pk, taskToken: 'old' }),
    ).resolves.toEqual({ stored: false });
  });
});

describe('Poll', () => {
  async function uploaded(bytes: Buffer) {
    const record = await acceptedRecord();
    const created = await createVideoGenFile(createDeps(), { pk: record.pk });
    await uploadToPresignedUrl({
      url: created.uploadUrl,
      body: Readable.from([bytes]),
      contentLength: bytes.length,
    });
    return { record, created };
  }
  const pollDeps = (maxWaitSeconds = 3600, at = new Date()) => ({
    store: table.store,
    videoGen: () => Promise.resolve(client),
    maxWaitSeconds,
    now: () => at,
    retry: noWait,
  });

  it('carries a file whose webhooks were lost: WAITING, then READY from GET alone', async () => {
    const { record, created } = await uploaded(mp4());
    const started = new Date().toISOString();
    expect(await poll(pollDeps(), { pk: record.pk, fileId: created.fileId, startedAt: started })).toEqual({
      outcome: 'WAITING',
      status: 'UPLOADED',
    });
    await sim.settled();
    expect(await poll(pollDeps(), { pk: record.pk, fileId: created.fileId, startedAt: started })).toEqual({
      outcome: 'READY',
      status: 'ANALYZED',
    });
  });

  it('leaves no task token behind when it ends the workflow, even one a late wait stored', async () => {
    const { record, created } = await uploaded(mp4());
    await storeTaskToken(table.store, record.pk, 'stored-after-its-wait-timed-out', WAITING_STATUSES, AT);
    await sim.settled();
    expect((await poll(pollDeps(), { pk: record.pk, fileId: created.fileId, startedAt: AT })).outcome).toBe(
      'READY',
    );
    expect((await getRecord(table.store, record.pk))?.taskToken).toBeUndefined();
  });

  it('keeps the token while it sends the workflow back to wait', async () => {
    const { record, created } = await uploaded(mp4());
    await storeTaskToken(table.store, record.pk, 'current', WAITING_STATUSES, AT);
    expect(
      (await poll(pollDeps(), { pk: record.pk, fileId: created.fileId, startedAt: new Date().toISOString() }))
        .outcome,
    ).toBe('WAITING');
    expect((await getRecord(table.store, record.pk))?.taskToken).toBe('current');
  });

  it('records TIMED_OUT past the max wait', async () => {
    const { record, created } = await uploaded(mp4());
    const result = await poll(pollDeps(60, new Date(Date.parse(AT) + 61_000)), {
      pk: record.pk,
      fileId: created.fileId,
      startedAt: AT,
    });
    expect(result).toEqual({ outcome: 'TIMED_OUT', status: 'TIMED_OUT' });
    expect(await getRecord(table.store, record.pk)).toMatchObject({
      status: 'TIMED_OUT',
      error: { code: 'TIMED_OUT' },
    });
  });

  it('answers FAILED when VideoGen failed the file', async () => {
    sim.faults.add({ fault: 'fail_processing' });
    const { record, created } = await uploaded(mp4());
    await sim.settled();
    expect(await poll(pollDeps(), { pk: record.pk, fileId: created.fileId, startedAt: AT })).toEqual({
      outcome: 'FAILED',
      status: 'FAILED',
    });
  });
});

describe('RecordFailure', () => {
  const deps = () => ({ store: table.store, readiness: 'download' as const, now });

  it('records FAILED with the Lambda’s message, not its stack', async () => {
    const record = await acceptedRecord();
    const cause = JSON.stringify({
      errorType: 'VideoGenAuthError',
      errorMessage: 'POST /v1/files/upload answered 401',
      trace: ['at x'],
    });
    expect(
      await recordFailure(deps(), {
        ...source(record.key),
        pk: record.pk,
        error: { Error: 'VideoGenAuthError', Cause: cause },
      }),
    ).toEqual({
      status: 'FAILED',
    });
    expect(await getRecord(table.store, record.pk)).toMatchObject({
      status: 'FAILED',
      error: { code: 'VideoGenAuthError', message: 'POST /v1/files/upload answered 401' },
    });
  });

  it('clears a task token the failed workflow can no longer use', async () => {
    const record = await acceptedRecord();
    await createVideoGenFile(createDeps(), { pk: record.pk });
    await storeTaskToken(table.store, record.pk, 'orphan', WAITING_STATUSES, AT);
    await recordFailure(deps(), { ...source(record.key), pk: record.pk, error: { Error: 'States.Timeout' } });
    expect(await getRecord(table.store, record.pk)).toMatchObject({
      status: 'FAILED',
      error: { code: 'States.Timeout' },
    });
    expect((await getRecord(table.store, record.pk))?.taskToken).toBeUndefined();
  });

  it('never overwrites a READY record', async () => {
    const record = receivedRecord({ status: 'READY' }, `steps/${(keys += 1)}.mp4`);
    await claimSource(table.store, record);
    expect(
      await recordFailure(deps(), {
        ...source(record.key),
        pk: record.pk,
        error: { Error: 'States.Timeout' },
      }),
    ).toEqual({ status: 'READY' });
  });

  /** A record claimed by `owner`, and a RecordFailureBeforeClaim input (no `pk`) of `failing`. */
  async function claimedAndFailedBeforeClaim(owner: string, failing: string) {
    const record = receivedRecord({ executionArn: owner }, `steps/${(keys += 1)}.mp4`);
    await claimSource(table.store, record);
    const input = {
      source: { bucket: record.bucket, key: record.key, versionId: record.versionId, etag: record.etag },
      executionArn: failing,
      error: { Error: 'States.TaskFailed', Cause: 'AccessDenied' },
    };
    return { record, input };
  }

  it('leaves another execution’s record alone when this one failed before its own claim', async () => {
    const { record, input } = await claimedAndFailedBeforeClaim('arn:exec:first', 'arn:exec:second');
    expect(await recordFailure(deps(), input)).toEqual({ status: 'RECEIVED' });
    expect(await getRecord(table.store, record.pk)).toMatchObject({ status: 'RECEIVED', error: null });
  });

  it('fails its own record when Prepare claimed it and then died', async () => {
    const { input } = await claimedAndFailedBeforeClaim('arn:exec:own', 'arn:exec:own');
    expect(await recordFailure(deps(), input)).toEqual({ status: 'FAILED' });
  });

  it('creates a FAILED record when the workflow failed before Prepare claimed the source', async () => {
    const input = source();
    expect(
      await recordFailure(deps(), { ...input, error: { Error: 'S3.InternalError', Cause: 'S3 was down' } }),
    ).toEqual({ status: 'FAILED' });
    expect(await getRecord(table.store, `SRC#drop/${input.source.key}#v1`)).toMatchObject({
      status: 'FAILED',
      error: { message: 'S3 was down' },
    });
  });
});
