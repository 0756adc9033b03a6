import { withRetries, type RetryOptions } from '#shared/retry';
import { recordObservation } from '#shared/ingest/observe';
import { advanceStatus, getRecord, type IngestStore } from '#shared/ingest/store';
import { clearTaskToken } from '#shared/ingest/task-token';
import { READY_STATUSES, WAITING_STATUSES } from '#shared/ingest/record';
import type { VideoGenClient } from '#shared/videogen/client';
import type { VideoGenFile } from '#shared/videogen/contract';

export interface PollDeps {
  readonly store: IngestStore;
  readonly videoGen: () => Promise<VideoGenClient>;
  readonly maxWaitSeconds: number;
  readonly now: () => Date;
  readonly retry?: RetryOptions;
  /** Told when this poll made the file ready, with the time since its drop (for metrics). */
  readonly onFileReady?: (dropToReadyMs: number) => void;
}

export interface PollInput {
  readonly pk: string;
  readonly fileId: string;
  /** When VideoGen accepted the bytes (the transfer's answer): the max wait counts from here. */
  readonly uploadedAt: string;
}

export type PollOutcome = 'READY' | 'FAILED' | 'WAITING' | 'TIMED_OUT';

/**
 * The path that carries a file whose webhooks were lost or never sent: `GET /v1/files/{id}`,
 * applied to the record exactly as a webhook would be. Past the max wait, the ingest is
 * recorded `TIMED_OUT`.
 */
export async function poll(
  deps: PollDeps,
  input: PollInput,
): Promise<{ outcome: PollOutcome; status: string }> {
  const client = await deps.videoGen();
  const file = await withRetries(() => client.getFile(input.fileId), deps.retry);
  const now = deps.now();
  const outcome = await decide(deps, input, file, now);
  // The workflow ends here unless it waits again: a token a timed-out wait stored (even
  // one stored late, after its timeout) can never be answered, so none may stay behind.
  if (outcome.outcome !== 'WAITING') await clearTaskToken(deps.store, input.pk, undefined);
  return outcome;
}

async function decide(
  deps: PollDeps,
  input: PollInput,
  file: VideoGenFile,
  now: Date,
): Promise<{ outcome: PollOutcome; status: string }> {
  const applied = await recordObservation(deps.store, input.pk, { file, at: now.toISOString() });
  if (applied.dropToReadyMs !== undefined) deps.onFileReady?.(applied.dropToReadyMs);
  if (applied.ready) return { outcome: 'READY', status: applied.record.status };
  if (applied.failed) return { outcome: 'FAILED', status: applied.record.status };
  const waitedSeconds = (now.getTime() - Date.parse(input.uploadedAt)) / 1000;
  if (waitedSeconds < deps.maxWaitSeconds) return { outcome: 'WAITING', status: applied.record.status };
  const error = {
    code: 'TIMED_OUT',
    message: `VideoGen did not report the file ready within ${deps.maxWaitSeconds} s of receiving its bytes (last status ${file.status})`,
  };
  if (
    await advanceStatus(deps.store, input.pk, WAITING_STATUSES, 'TIMED_OUT', now.toISOString(), { error })
  ) {
    return { outcome: 'TIMED_OUT', status: 'TIMED_OUT' };
  }
  // It moved while we decided: a webhook made it ready (or failed) just now.
  const record = await getRecord(deps.store, input.pk);
  const status = record?.status ?? 'TIMED_OUT';
  return { outcome: READY_STATUSES.some((ready) => ready === status) ? 'READY' : 'FAILED', status };
}
