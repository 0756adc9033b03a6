import type { SFNClient } from '@aws-sdk/client-sfn';
import { IngestRecordMissingError } from '#shared/ingest/errors';
import { READY_STATUSES, WAITING_STATUSES } from '#shared/ingest/record';
import { resumeWorkflow } from '#shared/ingest/resume';
import { getRecord, type IngestStore } from '#shared/ingest/store';
import { storeTaskToken } from '#shared/ingest/task-token';

export interface AwaitFileDeps {
  readonly store: IngestStore;
  readonly sfn: SFNClient;
  readonly now: () => string;
}

/**
 * Entered with a fresh task token each time the workflow waits. Stores the token only
 * while the file is not ready yet (a conditional write), so the webhook handler can
 * resume the workflow. If the file got ready (or failed) first, nothing would ever
 * answer the token: this resumes the workflow at once instead.
 */
export async function awaitFile(
  deps: AwaitFileDeps,
  input: { pk: string; taskToken: string },
): Promise<{ stored: boolean }> {
  if (await storeTaskToken(deps.store, input.pk, input.taskToken, WAITING_STATUSES, deps.now()))
    return { stored: true };
  const record = await getRecord(deps.store, input.pk);
  if (!record) throw new IngestRecordMissingError(`no ingest record ${input.pk}`);
  await resumeWorkflow(deps.sfn, input.taskToken, {
    outcome: READY_STATUSES.includes(record.status) ? 'READY' : 'FAILED',
    status: record.status,
  });
  return { stored: false };
}
