import { describe, expect, it } from 'vitest';
import { createVideoGenFile } from '../../../lambdas/transfer/create.ts';
import { recordFailure } from '../../../lambdas/record-failure/record-failure.ts';
import { getRecord } from '#shared/ingest/store';
import { claimSource } from '#shared/ingest/claims';
import { storeTaskToken } from '#shared/ingest/task-token';
import { WAITING_STATUSES } from '#shared/ingest/record';
import { receivedRecord, AT } from '../../fixtures/records.ts';
import { useWorkflowSteps } from '../../helpers/workflow-steps.ts';
import { present } from '../../helpers/present.ts';

const steps = useWorkflowSteps();
const { now, source, acceptedRecord, createDeps } = steps;

describe('RecordFailure', () => {
  const deps = () => ({ store: steps.table.store, readiness: 'download' as const, now });

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
    expect(await getRecord(steps.table.store, record.pk)).toMatchObject({
      status: 'FAILED',
      error: { code: 'VideoGenAuthError', message: 'POST /v1/files/upload answered 401' },
    });
  });

  it('clears a task token the failed workflow can no longer use', async () => {
    const record = await acceptedRecord();
    await createVideoGenFile(createDeps(), { pk: record.pk });
    await storeTaskToken(steps.table.store, record.pk, 'orphan', WAITING_STATUSES, AT);
    await recordFailure(deps(), { ...source(record.key), pk: record.pk, error: { Error: 'States.Timeout' } });
    expect(await getRecord(steps.table.store, record.pk)).toMatchObject({
      status: 'FAILED',
      error: { code: 'States.Timeout' },
    });
    expect(present(await getRecord(steps.table.store, record.pk), 'the record').taskToken).toBeUndefined();
  });

  it('never overwrites a READY record', async () => {
    const record = receivedRecord({ status: 'READY' }, steps.nextKey());
    await claimSource(steps.table.store, record);
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
    const record = receivedRecord({ executionArn: owner }, steps.nextKey());
    await claimSource(steps.table.store, record);
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
    expect(await getRecord(steps.table.store, record.pk)).toMatchObject({ status: 'RECEIVED', error: null });
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
    expect(await getRecord(steps.table.store, `SRC#drop/${input.source.key}#v1`)).toMatchObject({
      status: 'FAILED',
      error: { message: 'S3 was down' },
    });
  });
});
