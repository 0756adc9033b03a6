import { advanceStatus, getRecord, type IngestStore } from '#shared/ingest/store';
import { claimSource } from '#shared/ingest/claims';
import { clearTaskToken } from '#shared/ingest/task-token';
import { newIngestRecord } from '#shared/ingest/new-record';
import { sourcePk, type IngestError, type IngestStatus } from '#shared/ingest/record';
import type { Readiness } from '#shared/config';

/** The statuses a failure may end: anything not ready and not already ended. */
const FAILABLE: readonly IngestStatus[] = ['RECEIVED', 'CREATED', 'UPLOADING', 'UPLOADED'];
export const MAX_ERROR_MESSAGE = 1000;

export interface RecordFailureInput {
  readonly source: {
    readonly bucket: string;
    readonly key: string;
    readonly versionId: string | null;
    readonly etag: string | null;
  };
  /** Absent when the workflow failed before Prepare could claim the source. */
  readonly pk?: string | null | undefined;
  /** What the workflow's `Catch` put in `ResultPath`: `{ Error, Cause }`. */
  readonly error: { readonly Error: string; readonly Cause?: string | null | undefined };
  readonly executionArn: string;
}

export interface RecordFailureDeps {
  readonly store: IngestStore;
  readonly readiness: Readiness;
  readonly now: () => string;
}

/**
 * Turns a Step Functions error into the record's `error`: the error's name as `code`,
 * and the Lambda's `errorMessage` (not its stack trace) as `message`.
 */
export function ingestErrorOf(error: RecordFailureInput['error']): IngestError {
  let message = error.Cause ?? '';
  try {
    const parsed = JSON.parse(message) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') message = parsed.errorMessage;
  } catch {
    // A plain-text cause (a service integration's) is the message itself.
  }
  return { code: error.Error, message: (message || error.Error).slice(0, MAX_ERROR_MESSAGE) };
}

/** Records `FAILED` with the error, unless the ingest already ended (ready, rejected, timed out). */
export async function recordFailure(
  deps: RecordFailureDeps,
  input: RecordFailureInput,
): Promise<{ status: string }> {
  const at = deps.now();
  const error = ingestErrorOf(input.error);
  const claimed = input.pk !== undefined && input.pk !== null;
  const pk = input.pk ?? sourcePk({ ...input.source, etag: input.source.etag ?? 'unknown' });
  // Failed before its own claim: a record under that key belongs to another execution of
  // the same content (an unversioned bucket's same ETag, a redelivered event), never ours to fail.
  const owner = claimed ? {} : { executionArn: input.executionArn };
  if (await advanceStatus(deps.store, pk, FAILABLE, 'FAILED', at, { error, ...owner })) {
    // The workflow ends here: a token a wait stored can never be answered now.
    await clearTaskToken(deps.store, pk, undefined);
    return { status: 'FAILED' };
  }
  const existing = await getRecord(deps.store, pk);
  if (existing) return { status: existing.status };
  // Failed before Prepare claimed it: a record still says what happened.
  const record = newIngestRecord({
    source: { ...input.source, etag: input.source.etag ?? 'unknown' },
    size: 0,
    contentType: null,
    displayName: null,
    type: null,
    isTemporary: false,
    readiness: deps.readiness,
    executionArn: input.executionArn,
    at,
  });
  if (await claimSource(deps.store, { ...record, status: 'FAILED', error })) return { status: 'FAILED' };
  return { status: (await getRecord(deps.store, pk))?.status ?? 'FAILED' };
}
