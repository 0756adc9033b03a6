import { Readable } from 'node:stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/util-stream';
import { mockAwsClient } from '../../helpers/aws-mocks.ts';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  isTransient,
  processTransferMessage,
  retryDelaySeconds,
  type TaskAnswers,
  type TransferWorkerDeps,
} from '../../../lambdas/transfer/worker.ts';
import { DeleteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { API_PAUSE_PK, ApiPauseView, extendApiPause, readApiPause } from '#shared/ingest/api-pause';
import { advanceStatus, getRecord, recordCreatedFile } from '#shared/ingest/store';
import { claimSource } from '#shared/ingest/claims';
import type { IngestRecord } from '#shared/ingest/record';
import { TransferAttemptsExhaustedError, SourceGoneError } from '#shared/ingest/errors';
import { acquireTransferLease } from '#shared/ingest/transfer-lease';
import {
  VideoGenClient,
  VideoGenServerError,
  VideoGenValidationError,
  uploadToPresignedUrl,
} from '#shared/videogen/index';
import { VideoGenSimulator } from '#local/simulator/simulator';
import { mp4 } from '#local/media';
import { receivedRecord } from '../../fixtures/records.ts';
import type { TestTable } from '../../helpers/ingest-table.ts';
import { startStepBackends, type StepBackends } from '../../helpers/step-backends.ts';
import { present } from '../../helpers/present.ts';

const s3 = mockAwsClient(S3Client);
let table: TestTable;
let sim: VideoGenSimulator;
let client: VideoGenClient;
let keys = 0;
let invocations = 0;
const bytes = mp4(50_000);

let backends: StepBackends;
beforeAll(async () => {
  backends = await startStepBackends();
  ({ table, sim, client } = backends);
});
afterAll(() => backends.close());
beforeEach(async () => {
  // Each test starts with no shared VideoGen pause.
  await table.store.client.send(new DeleteCommand({ TableName: table.tableName, Key: { pk: API_PAUSE_PK } }));
  s3.reset();
  sim.faults.clear();
  s3.on(GetObjectCommand).callsFake(() => ({ Body: sdkStreamMixin(Readable.from([bytes])) }));
});

/** What the worker answered the workflow, in order. */
function recordingAnswers(tokenGone = false): TaskAnswers & { calls: unknown[] } {
  const calls: unknown[] = [];
  return {
    calls,
    succeed: (token, output) => {
      calls.push({ succeed: token, output });
      return Promise.resolve(!tokenGone);
    },
    fail: (token, error) => {
      calls.push({ fail: token, error: error.name });
      return Promise.resolve(!tokenGone);
    },
  };
}

async function claimed(overrides: Partial<IngestRecord> = {}): Promise<IngestRecord> {
  const record = receivedRecord({ size: bytes.length, ...overrides }, `worker/${(keys += 1)}.mp4`);
  await claimSource(table.store, record);
  return record;
}

function deps(answers: TaskAnswers, overrides: Partial<TransferWorkerDeps> = {}): TransferWorkerDeps {
  return {
    s3: new S3Client({}),
    store: table.store,
    videoGen: () => Promise.resolve(client),
    upload: uploadToPresignedUrl,
    answers,
    maxUploadUrlAttempts: 3,
    maxAttempts: 5,
    invocationId: `invocation-${(invocations += 1)}`,
    budgetMs: () => 60_000,
    deadlineMs: () => Date.now() + 70_000,
    sleep: () => Promise.resolve(),
    random: () => 0,
    ...overrides,
  };
}

/** A record whose worker created a VideoGen file and then died (the message comes again). */
async function createdBeforeACrash() {
  const record = await claimed();
  const first = await client.createFile({ displayName: 'a.mp4', type: 'VIDEO', isTemporary: false });
  await recordCreatedFile(table.store, record, {
    fileId: first.fileId,
    displayName: 'a.mp4',
    at: record.createdAt,
  });
  return { record, first };
}

/** The transfer queue delivering `pk`'s message (once more). */
const deliver = (workerDeps: TransferWorkerDeps, pk: string, taskToken = 't') =>
  processTransferMessage(workerDeps, { pk, taskToken });

const storedUploads = (fileId: string | null) =>
  sim.uploads().filter((upload) => upload.fileId === fileId && upload.outcome === 'stored');

describe('the transfer worker', () => {
  it('creates the file just before its PUT, sends the bytes and answers the token with the upload', async () => {
    const record = await claimed();
    const answers = recordingAnswers();

    const disposition = await deliver(deps(answers), record.pk, 't1');

    const stored = await getRecord(table.store, record.pk);
    expect(disposition).toEqual({ kind: 'answered', outcome: 'succeeded', bytesSent: bytes.length });
    expect(stored).toMatchObject({ status: 'UPLOADED', attempts: 1 });
    expect(answers.calls).toEqual([
      {
        succeed: 't1',
        output: { fileId: stored?.fileId, bytes: bytes.length, sent: true, uploadedAt: stored?.uploadedAt },
      },
    ]);
    expect(stored?.uploadedAt).toEqual(expect.any(String));
    expect(storedUploads(stored?.fileId ?? null)).toHaveLength(1);
  });

  it('answers a redelivered message of a finished transfer again and sends nothing', async () => {
    const record = await claimed();
    await deliver(deps(recordingAnswers()), record.pk);
    const uploadsBefore = sim.uploads().length;
    const answers = recordingAnswers();

    const again = await deliver(deps(answers), record.pk);

    expect(again).toEqual({ kind: 'answered', outcome: 'already-done' });
    expect(answers.calls).toEqual([{ succeed: 't', output: expect.objectContaining({ sent: false }) }]);
    expect(sim.uploads()).toHaveLength(uploadsBefore);
  });

  it('after a crash mid-upload, abandons the file VideoGen never got bytes for and uploads one new file', async () => {
    const { record, first } = await createdBeforeACrash();
    await advanceStatus(table.store, record.pk, ['CREATED'], 'UPLOADING', record.createdAt);

    await deliver(deps(recordingAnswers()), record.pk);

    const stored = await getRecord(table.store, record.pk);
    expect(stored).toMatchObject({ status: 'UPLOADED', attempts: 2, abandonedFileIds: [first.fileId] });
    expect(storedUploads(first.fileId)).toHaveLength(0);
    expect(storedUploads(stored?.fileId ?? null)).toHaveLength(1);
  });

  it('after a crash past the PUT, sees the bytes at VideoGen and neither creates nor sends again', async () => {
    const { record, first } = await createdBeforeACrash();
    await uploadToPresignedUrl({
      url: first.uploadUrl,
      body: Readable.from([bytes]),
      contentLength: bytes.length,
    });
    const createsBefore = sim.requests().filter((request) => request.op === 'create').length;
    const answers = recordingAnswers();

    const disposition = await deliver(deps(answers), record.pk);

    expect(disposition).toMatchObject({ kind: 'answered', outcome: 'already-done' });
    expect(await getRecord(table.store, record.pk)).toMatchObject({
      status: 'UPLOADED',
      fileId: first.fileId,
    });
    expect(sim.requests().filter((request) => request.op === 'create')).toHaveLength(createsBefore);
    expect(storedUploads(first.fileId)).toHaveLength(1);
  });

  it('shares a 429: the pause it asks for is recorded for every worker, and the message waits it out in the queue', async () => {
    sim.faults.add({ fault: 'rate_limit', on: 'create', retryAfterSeconds: 40 });
    const record = await claimed();
    const at = Date.parse('2026-11-26T10:00:00Z');

    const disposition = await deliver(deps(recordingAnswers(), { now: () => at }), record.pk);

    expect(disposition).toEqual({ kind: 'retry', afterSeconds: 40, reason: 'VideoGenRateLimitedError' });
    expect(await readApiPause(table.store)).toBe(at + 40_000);
    expect((await getRecord(table.store, record.pk))?.status).toBe('RECEIVED');
  });

  it('waits out a shared pause inside the invocation, holding only its own message; defers only one past its time limit', async () => {
    const at = Date.parse('2026-11-27T10:00:00Z');
    await extendApiPause(table.store, at + 120_000);
    const slept: number[] = [];
    const record = await claimed();
    const createsBefore = sim.requests().filter((request) => request.op === 'create').length;

    // A 120 s Retry-After within a 15-minute invocation: waited here, the message kept.
    const waited = await processTransferMessage(
      deps(recordingAnswers(), {
        now: () => at + slept.reduce((sum, ms) => sum + ms, 0),
        budgetMs: () => 840_000,
        sleep: (ms) => Promise.resolve(void slept.push(ms)),
      }),
      { pk: record.pk, taskToken: 't' },
    );
    expect(slept).toEqual([120_000]);
    expect(waited).toMatchObject({ kind: 'answered', outcome: 'succeeded' });
    expect(sim.requests().filter((request) => request.op === 'create')).toHaveLength(createsBefore + 1);

    // Longer than the invocation has left: the message is hidden until the pause ends, and
    // that delivery is no attempt.
    await extendApiPause(table.store, at + 600_000);
    const later = await claimed();
    const deferred = await deliver(deps(recordingAnswers(), { now: () => at }), later.pk);
    expect(deferred).toEqual({ kind: 'retry', afterSeconds: 600, reason: 'VideoGen rate limit' });
    expect(present(await getRecord(table.store, later.pk), 'the record').transferAttempts).toBeUndefined();
  });

  it('reads the shared pause once in a few seconds per environment, and sees what it wrote itself at once', async () => {
    let at = Date.parse('2026-11-28T10:00:00Z');
    const send = vi.spyOn(table.store.client, 'send');
    const pauseReads = () =>
      send.mock.calls.filter(
        ([command]) => command instanceof GetCommand && command.input.Key?.pk === API_PAUSE_PK,
      ).length;
    const view = new ApiPauseView(table.store, 5000, () => at);
    const environment = (overrides: Partial<TransferWorkerDeps> = {}) =>
      deps(recordingAnswers(), {
        now: () => at,
        // Shorter than every pause here: a pause defers the message instead of being waited out.
        budgetMs: () => 10_000,
        pause: view,
        ...overrides,
      });
    const before = pauseReads();

    // Two transfers a second apart: one read of the item between them.
    expect(await deliver(environment(), (await claimed()).pk)).toMatchObject({ outcome: 'succeeded' });
    at += 1000;
    expect(await deliver(environment(), (await claimed()).pk)).toMatchObject({ outcome: 'succeeded' });
    expect(pauseReads() - before).toBe(1);

    // Another worker's pause is seen once the view is older than its 5 s.
    await extendApiPause(table.store, at + 60_000);
    at += 5000;
    expect(await deliver(environment(), (await claimed()).pk)).toEqual({
      kind: 'retry',
      afterSeconds: 55,
      reason: 'VideoGen rate limit',
    });
    expect(pauseReads() - before).toBe(2);

    // A 429 met here pauses this environment's next transfer without a read.
    await table.store.client.send(
      new DeleteCommand({ TableName: table.tableName, Key: { pk: API_PAUSE_PK } }),
    );
    const fresh = new ApiPauseView(table.store, 5000, () => at);
    await fresh.until();
    sim.faults.add({ fault: 'rate_limit', on: 'create', retryAfterSeconds: 30 });
    expect(await deliver(environment({ pause: fresh }), (await claimed()).pk)).toMatchObject({
      kind: 'retry',
      afterSeconds: 30,
    });
    const reads = pauseReads();
    expect(await deliver(environment({ pause: fresh }), (await claimed()).pk)).toEqual({
      kind: 'retry',
      afterSeconds: 30,
      reason: 'VideoGen rate limit',
    });
    expect(pauseReads()).toBe(reads);
    send.mockRestore();
  });

  it('counts attempts on the record, not deliveries: a file fails only after maxAttempts real tries', async () => {
    await extendApiPause(table.store, Date.now() + 600_000);
    const record = await claimed();
    // Twenty deliveries that only waited for VideoGen's rate limit: no attempt spent.
    for (let receive = 0; receive < 20; receive += 1) {
      expect(await deliver(deps(recordingAnswers()), record.pk)).toMatchObject({ kind: 'retry' });
    }
    await table.store.client.send(
      new DeleteCommand({ TableName: table.tableName, Key: { pk: API_PAUSE_PK } }),
    );
    sim.faults.add({ fault: 'server_error', on: 'create' });
    const noRetries = { budgetMs: () => 0 };
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      const transient = await deliver(deps(recordingAnswers(), noRetries), record.pk);
      expect(transient).toMatchObject({ kind: 'retry', reason: 'VideoGenServerError' });
      expect(await getRecord(table.store, record.pk)).toMatchObject({
        status: 'RECEIVED',
        transferAttempts: attempt,
      });
    }

    const answers = recordingAnswers();
    const exhausted = await deliver(deps(answers, noRetries), record.pk);
    expect(exhausted).toEqual({
      kind: 'answered',
      outcome: 'failed',
      error: 'TransferAttemptsExhaustedError',
    });
    expect(answers.calls).toEqual([{ fail: 't', error: 'TransferAttemptsExhaustedError' }]);
  });

  it('two overlapping deliveries of one message: one VideoGen file gets the bytes, and the record and the answer name it', async () => {
    sim.faults.add({ fault: 'slow', on: 'put', delayMs: 400 });
    const record = await claimed();
    const createsBefore = sim.requests().filter((request) => request.op === 'create').length;
    const first = recordingAnswers();
    const second = recordingAnswers();

    const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

    const [a, b] = await Promise.all([
      deliver(deps(first), record.pk),
      realSleep(100).then(() => deliver(deps(second, { sleep: realSleep }), record.pk)),
    ]);

    const stored = await getRecord(table.store, record.pk);
    expect(a).toMatchObject({ kind: 'answered', outcome: 'succeeded' });
    // The copy waited for the first to finish, then answered with the record's file, sending nothing.
    expect(b).toEqual({ kind: 'answered', outcome: 'already-done' });
    expect(stored).toMatchObject({ status: 'UPLOADED', attempts: 1, transferAttempts: 1 });
    expect(stored?.transferOwner).toBeUndefined();
    for (const answers of [first, second]) {
      expect(answers.calls).toEqual([
        { succeed: 't', output: expect.objectContaining({ fileId: stored?.fileId }) },
      ]);
    }
    expect(sim.requests().filter((request) => request.op === 'create')).toHaveLength(createsBefore + 1);
    expect(storedUploads(stored?.fileId ?? null)).toHaveLength(1);
  });

  it('hands a copy whose original outlasts it back to the queue until the lease ends', async () => {
    const record = await claimed();
    const at = Date.now();
    await acquireTransferLease(table.store, record.pk, {
      owner: 'the original',
      nowMs: at,
      untilMs: at + 300_000,
      maxAttempts: 5,
      at: new Date(at).toISOString(),
    });

    const copy = await deliver(deps(recordingAnswers(), { now: () => at, budgetMs: () => 500 }), record.pk);

    expect(copy).toEqual({ kind: 'retry', afterSeconds: 300, reason: 'transfer in progress elsewhere' });
    expect(await getRecord(table.store, record.pk)).toMatchObject({
      transferOwner: 'the original',
      transferAttempts: 1,
    });
  });

  it('never records or answers a file the record no longer holds, though its bytes went', async () => {
    const record = await claimed();
    const replaced = await client.createFile({ displayName: 'a.mp4', type: 'VIDEO', isTemporary: false });
    const answers = recordingAnswers();
    const upload: TransferWorkerDeps['upload'] = async (request) => {
      // While these bytes go, the record moves to another file.
      const current = await getRecord(table.store, record.pk);
      if (!current) throw new Error('no record');
      await recordCreatedFile(table.store, current, {
        fileId: replaced.fileId,
        displayName: 'a.mp4',
        at: record.createdAt,
      });
      return uploadToPresignedUrl(request);
    };

    const disposition = await deliver(deps(answers, { upload, budgetMs: () => 0 }), record.pk);

    expect(disposition).toMatchObject({ kind: 'retry', reason: 'ConcurrentUpdateError' });
    expect(answers.calls).toEqual([]);
    expect(await getRecord(table.store, record.pk)).toMatchObject({
      status: 'CREATED',
      fileId: replaced.fileId,
    });
  });

  it('fails the task at once, by name, on a permanent error', async () => {
    s3.on(GetObjectCommand).rejects(
      Object.assign(new Error('gone'), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } }),
    );
    const record = await claimed();
    const answers = recordingAnswers();
    const disposition = await deliver(deps(answers), record.pk);
    expect(disposition).toMatchObject({ kind: 'answered', outcome: 'failed', error: 'SourceGoneError' });
  });

  it('drops the message of a workflow that has ended (its wait in the queue timed out)', async () => {
    const record = await claimed({ status: 'FAILED' });
    const answers = recordingAnswers();
    const disposition = await deliver(deps(answers), record.pk);
    expect(disposition).toEqual({ kind: 'answered', outcome: 'workflow-ended' });
    expect(answers.calls).toEqual([]);
  });
});

describe('transfer retry rules', () => {
  it('tells what another delivery may fix from what it cannot', () => {
    expect(isTransient(new VideoGenServerError('502'))).toBe(true);
    expect(isTransient(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }))).toBe(true);
    expect(isTransient(new VideoGenValidationError('bad'))).toBe(false);
    expect(isTransient(new SourceGoneError('gone'))).toBe(false);
    expect(isTransient(new TransferAttemptsExhaustedError('tried'))).toBe(false);
    expect(
      isTransient(
        Object.assign(new Error('no'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } }),
      ),
    ).toBe(false);
  });

  it('waits 15 s after the first failure, doubling, never more than 15 minutes', () => {
    const top = () => 1;
    expect([1, 2, 3, 4, 5, 6, 7, 10].map((count) => retryDelaySeconds(count, top))).toEqual([
      15, 30, 60, 120, 240, 480, 900, 900,
    ]);
    expect(retryDelaySeconds(1, () => 0)).toBe(8);
  });
});
