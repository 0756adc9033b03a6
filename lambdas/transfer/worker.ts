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
import { extendApiPause, readApiPause } from '#shared/ingest/api-pause';
import { IngestRecordMissingError, TransferAttemptsExhaustedError } from '#shared/ingest/errors';
import { FAILURE_STATUSES, STATUS_RANK, type IngestRecord } from '#shared/ingest/record';
import { advanceStatus, ConcurrentUpdateError, getRecord, type IngestStore } from '#shared/ingest/store';
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
import { transfer, type TransferOutput } from './transfer.ts';

/** The transfer queue's message: which record, and the token the workflow waits on. */
export interface TransferMessage {
  readonly pk: string;
  readonly taskToken: string;
  /** SQS's ApproximateReceiveCount: 1 on the first delivery. */
  readonly receiveCount: number;
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
  /** Deliveries of one message before its transfer fails for good. */
  readonly maxReceives: number;
  /** Milliseconds this invocation may still spend (its time limit less a margin). */
  readonly budgetMs: () => number;
  readonly signal?: AbortSignal;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /** Told about each retry inside the invocation (a 5xx, a 429), for logs and metrics. */
  readonly onRetry?: RetryOptions['onRetry'];
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

/** A shared pause at most this long is waited out in the invocation; a longer one hides the message instead. */
export const MAX_IN_PROCESS_PAUSE_MS = 30_000;
/** SQS's ceiling for a message's visibility timeout is 12 h; retries stay far below it. */
export const MAX_RETRY_DELAY_SECONDS = 900;

/** Whether trying the same message again later may succeed. */
export function isTransient(error: unknown): boolean {
  if (isPermanentError(error)) return false;
  if (error instanceof VideoGenError) return error.retryable;
  if (error instanceof ConcurrentUpdateError) return true;
  return isTransientAwsError(error);
}

/** The wait before the next delivery of a message that met a transient error: 15 s, doubling, at most 15 min. */
export function retryDelaySeconds(receiveCount: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_RETRY_DELAY_SECONDS, 15 * 2 ** Math.max(0, receiveCount - 1));
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

  try {
    const record = await getRecord(deps.store, message.pk);
    if (!record) return await fail(new IngestRecordMissingError(`no ingest record ${message.pk}`));
    // Ended already (the wait in the queue timed out, or an operator failed it): nothing to answer.
    if (FAILURE_STATUSES.includes(record.status)) return { kind: 'answered', outcome: 'workflow-ended' };
    // A redelivered message whose transfer went through: answer again, send nothing.
    if (STATUS_RANK[record.status] >= STATUS_RANK.UPLOADED) {
      return await succeed({ fileId: record.fileId ?? '', bytes: record.size, sent: false }, 'already-done');
    }
    if (message.receiveCount > deps.maxReceives) {
      return await fail(
        new TransferAttemptsExhaustedError(
          `the transfer was tried ${deps.maxReceives} times and none finished (crashed or kept failing)`,
        ),
      );
    }

    const pausedMs = (await readApiPause(deps.store)) - now();
    if (pausedMs > 0) {
      if (pausedMs > MAX_IN_PROCESS_PAUSE_MS || pausedMs > deps.budgetMs()) {
        return { kind: 'retry', afterSeconds: Math.ceil(pausedMs / 1000), reason: 'VideoGen rate limit' };
      }
      await sleep(pausedMs);
    }

    if (await finishedBeforeACrash(deps, record, nowIso)) {
      return await succeed({ fileId: record.fileId ?? '', bytes: record.size, sent: false }, 'already-done');
    }
    const onRetry: RetryOptions['onRetry'] = (error, attempt, delayMs) => {
      deps.onRetry?.(error, attempt, delayMs);
      // Best effort: the pause is advice to the other workers; this one waits it out anyway.
      if (error instanceof VideoGenRateLimitedError)
        void extendApiPause(deps.store, now() + delayMs).catch(() => undefined);
    };
    const retry: RetryOptions = {
      budgetMs: deps.budgetMs,
      onRetry,
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
      ...(deps.random ? { random: deps.random } : {}),
    };
    // An upload URL that expired before its bytes went (a slow start) is replaced at once:
    // Create records the old file abandoned, up to maxUploadUrlAttempts files in all.
    for (;;) {
      const created = await createVideoGenFile(
        {
          store: deps.store,
          videoGen: deps.videoGen,
          maxAttempts: deps.maxUploadUrlAttempts,
          now: nowIso,
          retry,
        },
        { pk: message.pk },
      );
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
          { pk: message.pk, ...created },
        );
        return await succeed(output, 'succeeded');
      } catch (error) {
        if (!(error instanceof UploadUrlExpiredError)) throw error;
      }
    }
  } catch (caught) {
    const error = toError(caught);
    if (!isTransient(error)) return await fail(error);
    if (error instanceof VideoGenRateLimitedError) {
      const afterMs = error.retryAfterSeconds * 1000;
      await extendApiPause(deps.store, now() + afterMs);
      return { kind: 'retry', afterSeconds: Math.max(1, error.retryAfterSeconds), reason: error.name };
    }
    return {
      kind: 'retry',
      afterSeconds: retryDelaySeconds(message.receiveCount, deps.random),
      reason: error.name,
    };
  }
}

/**
 * A record left CREATED or UPLOADING by an attempt that was cut off: VideoGen knows
 * whether the bytes arrived. If they did, the record moves to UPLOADED and nothing is sent
 * again; if not, the caller creates a new file, and the store records this one abandoned.
 */
async function finishedBeforeACrash(
  deps: TransferWorkerDeps,
  record: IngestRecord,
  nowIso: () => string,
): Promise<boolean> {
  if (!record.fileId || (record.status !== 'CREATED' && record.status !== 'UPLOADING')) return false;
  const client = await deps.videoGen();
  try {
    const file = await client.getFile(record.fileId);
    if (file.status === 'PENDING_UPLOAD') return false;
  } catch (error) {
    if (error instanceof VideoGenNotFoundError) return false;
    throw error;
  }
  await advanceStatus(deps.store, record.pk, ['CREATED', 'UPLOADING'], 'UPLOADED', nowIso());
  return true;
}
