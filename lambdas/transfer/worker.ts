/**
 * One message of the transfer queue: the admission-controlled half of an ingest. The
 * workflow parks itself on the message's task token; this worker, run by an event source
 * mapping whose maximum concurrency is the cap, creates the VideoGen file just before its
 * PUT (so the presigned URL is fresh however long the file queued), streams the bytes and
 * answers the token. Everything here is safe to run twice for one message.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { isTransientAwsError } from '#shared/aws-errors';
import { isPermanentError } from '#shared/permanent-errors';
import { ApiPauseView } from '#shared/ingest/api-pause';
import { IngestRecordMissingError, TransferAttemptsExhaustedError } from '#shared/ingest/errors';
import { FAILURE_STATUSES, STATUS_RANK, type IngestRecord } from '#shared/ingest/record';
import { ConcurrentUpdateError, getRecord, type IngestStore } from '#shared/ingest/store';
import {
  acquireTransferLease,
  recordUploaded,
  releaseTransferLease,
  type LeaseOutcome,
} from '#shared/ingest/transfer-lease';
import { defaultSleep, type RetryOptions } from '#shared/retry';
import type { VideoGenClient } from '#shared/videogen/client';
import {
  UploadUrlExpiredError,
  VideoGenError,
  VideoGenNotFoundError,
  VideoGenRateLimitedError,
} from '#shared/videogen/errors';
import type { uploadToPresignedUrl } from '#shared/videogen/upload';
import { createVideoGenFile } from './create.ts';
import { transfer, uploadedAtOf, type TransferOutput } from './transfer.ts';

/** The transfer queue's message: which record, and the token the workflow waits on. */
export interface TransferMessage {
  readonly pk: string;
  readonly taskToken: string;
}

/** Answers the workflow's token; `false` when the token is gone (the wait timed out, or it was answered). */
export interface TaskAnswers {
  succeed(taskToken: string, output: TransferOutput): Promise<boolean>;
  fail(taskToken: string, error: { name: string; message: string }): Promise<boolean>;
}

export interface TransferWorkerDeps {
  readonly s3: S3Client;
  readonly store: IngestStore;
  readonly videoGen: () => Promise<VideoGenClient>;
  readonly upload: typeof uploadToPresignedUrl;
  readonly answers: TaskAnswers;
  /** VideoGen files one source may get (each after an expired URL or an attempt cut off). */
  readonly maxUploadUrlAttempts: number;
  /** Transfers really started for one source (counted on its record) before it fails for good. */
  readonly maxAttempts: number;
  /** This invocation: the owner of the transfer lease it takes. */
  readonly invocationId: string;
  /** Milliseconds this invocation may still spend (its time limit less a margin). */
  readonly budgetMs: () => number;
  /** When this invocation's time limit ends (epoch ms): its lease lasts that long. */
  readonly deadlineMs: () => number;
  readonly signal?: AbortSignal;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /** Told about each retry inside the invocation (a 5xx, a 429), for logs and metrics. */
  readonly onRetry?: RetryOptions['onRetry'];
  /** The environment's view of VideoGen's shared pause. @default one that reads the item every time */
  readonly pause?: ApiPauseView;
}

/**
 * What became of the message: `answered` (the token got its answer, or had none to get:
 * delete the message), or `retry` (leave it in the queue, hidden for `afterSeconds`).
 */
export type TransferDisposition =
  | {
      readonly kind: 'answered';
      readonly outcome: 'succeeded' | 'failed' | 'already-done' | 'workflow-ended';
      readonly error?: string;
      /** Bytes this invocation sent to VideoGen. */
      readonly bytesSent?: number;
    }
  | { readonly kind: 'retry'; readonly afterSeconds: number; readonly reason: string };

/** SQS's ceiling for a message's visibility timeout is 12 h; retries stay far below it. */
export const MAX_RETRY_DELAY_SECONDS = 900;

/** Whether trying the same message again later may succeed. */
export function isTransient(error: unknown): boolean {
  if (isPermanentError(error)) return false;
  if (error instanceof VideoGenError) return error.retryable;
  if (error instanceof ConcurrentUpdateError) return true;
  return isTransientAwsError(error);
}

/** The wait before the next try of a transfer that met a transient error: 15 s, doubling per attempt, at most 15 min. */
export function retryDelaySeconds(attempts: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_RETRY_DELAY_SECONDS, 15 * 2 ** Math.max(0, attempts - 1));
  return Math.min(MAX_RETRY_DELAY_SECONDS, Math.ceil(base / 2 + random() * (base / 2)));
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

export async function processTransferMessage(
  deps: TransferWorkerDeps,
  message: TransferMessage,
): Promise<TransferDisposition> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? defaultSleep;
  const pause = deps.pause ?? new ApiPauseView(deps.store, 0, now);
  const nowIso = () => new Date(now()).toISOString();
  const fail = async (error: Error): Promise<TransferDisposition> => {
    const answered = await deps.answers.fail(message.taskToken, { name: error.name, message: error.message });
    return { kind: 'answered', outcome: answered ? 'failed' : 'workflow-ended', error: error.name };
  };
  const succeed = async (
    output: TransferOutput,
    outcome: 'succeeded' | 'already-done',
  ): Promise<TransferDisposition> => {
    const answered = await deps.answers.succeed(message.taskToken, output);
    return {
      kind: 'answered',
      outcome: answered ? outcome : 'workflow-ended',
      ...(output.sent ? { bytesSent: output.bytes } : {}),
    };
  };
  /** The answer for a record that needs no transfer (any more), or undefined when it does. */
  const settled = async (record: IngestRecord | undefined): Promise<TransferDisposition | undefined> => {
    if (!record) return fail(new IngestRecordMissingError(`no ingest record ${message.pk}`));
    // Ended already (the wait in the queue timed out, or an operator failed it): nothing to answer.
    if (FAILURE_STATUSES.includes(record.status)) return { kind: 'answered', outcome: 'workflow-ended' };
    // A redelivered message whose transfer went through: answer again, send nothing.
    if (STATUS_RANK[record.status] >= STATUS_RANK.UPLOADED) {
      return succeed(
        { fileId: record.fileId ?? '', bytes: record.size, sent: false, uploadedAt: uploadedAtOf(record) },
        'already-done',
      );
    }
    return undefined;
  };

  let leased = false;
  try {
    // No read first: taking the lease reads the record as it writes it, and a record that
    // needs no transfer (any more) refuses the lease, which then reads it.
    // VideoGen asked every worker to pause: wait it out here, holding only this message.
    // Hiding it to take the next would touch (and add a receive to) every queued message.
    // After a wait, the item is read again: another 429 may have moved the pause out.
    for (let pausedMs = (await pause.until()) - now(); pausedMs > 0;) {
      if (pausedMs > deps.budgetMs()) {
        return { kind: 'retry', afterSeconds: Math.ceil(pausedMs / 1000), reason: 'VideoGen rate limit' };
      }
      await sleep(pausedMs);
      pausedMs = (await pause.until({ fresh: true })) - now();
    }

    const lease = await leaseTransfer(deps, message.pk, now, sleep);
    if (lease.kind === 'moved') {
      return (await settled(lease.record)) ?? { kind: 'retry', afterSeconds: 1, reason: 'record changed' };
    }
    if (lease.kind === 'exhausted') {
      return await fail(
        new TransferAttemptsExhaustedError(
          `the transfer was tried ${lease.attempts} times and none finished (crashed or kept failing)`,
        ),
      );
    }
    if (lease.kind === 'held') {
      // Another delivery of this message is still sending it past this invocation's time.
      return {
        kind: 'retry',
        afterSeconds: Math.max(1, Math.ceil((lease.untilMs - now()) / 1000)),
        reason: 'transfer in progress elsewhere',
      };
    }
    leased = true;
    const record = lease.record;

    const uploadedAt = await finishedBeforeACrash(deps, record, nowIso);
    if (uploadedAt) {
      leased = false;
      return await succeed(
        { fileId: record.fileId ?? '', bytes: record.size, sent: false, uploadedAt },
        'already-done',
      );
    }
    const onRetry: RetryOptions['onRetry'] = (error, attempt, delayMs) => {
      deps.onRetry?.(error, attempt, delayMs);
      // Best effort: the pause is advice to the other workers; this one waits it out anyway.
      if (error instanceof VideoGenRateLimitedError)
        void pause.extend(now() + delayMs).catch(() => undefined);
    };
    const retry: RetryOptions = {
      budgetMs: deps.budgetMs,
      onRetry,
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
      ...(deps.random ? { random: deps.random } : {}),
    };
    // An upload URL that expired before its bytes went (a slow start) is replaced at once:
    // Create records the old file abandoned, up to maxUploadUrlAttempts files in all.
    let current: IngestRecord | undefined = record;
    for (;;) {
      const created = await createVideoGenFile(
        {
          store: deps.store,
          videoGen: deps.videoGen,
          maxAttempts: deps.maxUploadUrlAttempts,
          now: nowIso,
          retry,
        },
        { pk: message.pk, ...(current ? { record: current } : {}) },
      );
      // A later round (the URL expired on the way) reads the record afresh.
      current = undefined;
      try {
        const output = await transfer(
          {
            s3: deps.s3,
            store: deps.store,
            upload: deps.upload,
            now: nowIso,
            retry,
            ...(deps.signal ? { signal: deps.signal } : {}),
          },
          { pk: message.pk, fileId: created.fileId, uploadUrl: created.uploadUrl, record: created.record },
        );
        leased = false; // recorded UPLOADED, which gives the lease back
        return await succeed(output, 'succeeded');
      } catch (error) {
        if (!(error instanceof UploadUrlExpiredError)) throw error;
      }
    }
  } catch (caught) {
    const error = toError(caught);
    if (leased) await releaseTransferLease(deps.store, message.pk, deps.invocationId).catch(() => undefined);
    if (!isTransient(error)) return await fail(error);
    if (error instanceof VideoGenRateLimitedError) {
      const afterMs = error.retryAfterSeconds * 1000;
      await pause.extend(now() + afterMs);
      return { kind: 'retry', afterSeconds: Math.max(1, error.retryAfterSeconds), reason: error.name };
    }
    const record = await getRecord(deps.store, message.pk).catch(() => undefined);
    return {
      kind: 'retry',
      afterSeconds: retryDelaySeconds(record?.transferAttempts ?? 1, deps.random),
      reason: error.name,
    };
  }
}

/** The longest a copy of a message waits between looks at the transfer another copy holds. */
const MAX_LEASE_CHECK_MS = 30_000;

/**
 * Takes the transfer's lease. While another delivery of the same message holds it (SQS
 * delivered it twice), waits here for that one to finish, looking again after 1 s, 2 s, …
 * at most 30 s apart: it then finds the record UPLOADED and answers with its file, or the
 * lease given back and takes it. Waiting in the invocation keeps the copy's message hidden,
 * instead of a round trip through the queue per look. `held` when the other one's time
 * outlasts this invocation's.
 */
async function leaseTransfer(
  deps: TransferWorkerDeps,
  pk: string,
  now: () => number,
  sleep: (ms: number) => Promise<void>,
): Promise<LeaseOutcome> {
  for (let waitMs = 1000; ; waitMs = Math.min(waitMs * 2, MAX_LEASE_CHECK_MS)) {
    const lease = await acquireTransferLease(deps.store, pk, {
      owner: deps.invocationId,
      nowMs: now(),
      untilMs: deps.deadlineMs(),
      maxAttempts: deps.maxAttempts,
      at: new Date(now()).toISOString(),
    });
    if (lease.kind !== 'held' || waitMs > deps.budgetMs()) return lease;
    await sleep(Math.max(1, Math.min(waitMs, lease.untilMs - now() + 1)));
  }
}

/**
 * A record left CREATED or UPLOADING by an attempt that was cut off (or a FAILED one an
 * operator retried): VideoGen knows whether the bytes arrived. If they did, the record
 * moves to UPLOADED and nothing is sent again (answers when, as ISO 8601); if not (or the
 * file failed at VideoGen), the caller creates a new file and the store records this one
 * abandoned.
 */
async function finishedBeforeACrash(
  deps: TransferWorkerDeps,
  record: IngestRecord,
  nowIso: () => string,
): Promise<string | undefined> {
  if (!record.fileId || (record.status !== 'CREATED' && record.status !== 'UPLOADING')) return undefined;
  const client = await deps.videoGen();
  try {
    const file = await client.getFile(record.fileId);
    if (file.status === 'PENDING_UPLOAD' || file.status === 'FAILED') return undefined;
  } catch (error) {
    if (error instanceof VideoGenNotFoundError) return undefined;
    throw error;
  }
  const uploadedAt = nowIso();
  if (await recordUploaded(deps.store, record.pk, record.fileId, uploadedAt)) return uploadedAt;
  const now = await getRecord(deps.store, record.pk);
  if (now?.fileId !== record.fileId || STATUS_RANK[now.status] < STATUS_RANK.UPLOADED)
    throw new ConcurrentUpdateError(`${record.pk} changed while its upload was confirmed`);
  return uploadedAtOf(now, uploadedAt);
}
