import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createVideoGenFile } from '../../../lambdas/transfer/create.ts';
import { poll } from '../../../lambdas/poll/poll.ts';
import { getRecord } from '#shared/ingest/store';
import { storeTaskToken } from '#shared/ingest/task-token';
import { WAITING_STATUSES } from '#shared/ingest/record';
import { uploadToPresignedUrl } from '#shared/videogen/index';
import { mp4 } from '#local/media';
import { AT } from '../../fixtures/records.ts';
import { useWorkflowSteps } from '../../helpers/workflow-steps.ts';
import { present } from '../../helpers/present.ts';

const steps = useWorkflowSteps();
const { noWait, acceptedRecord, createDeps } = steps;

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
    store: steps.table.store,
    videoGen: () => Promise.resolve(steps.client),
    maxWaitSeconds,
    now: () => at,
    retry: noWait,
  });

  it('carries a file whose webhooks were lost: WAITING, then READY from GET alone', async () => {
    const { record, created } = await uploaded(mp4());
    const started = new Date().toISOString();
    expect(await poll(pollDeps(), { pk: record.pk, fileId: created.fileId, uploadedAt: started })).toEqual({
      outcome: 'WAITING',
      status: 'UPLOADED',
    });
    await steps.sim.settled();
    expect(await poll(pollDeps(), { pk: record.pk, fileId: created.fileId, uploadedAt: started })).toEqual({
      outcome: 'READY',
      status: 'ANALYZED',
    });
  });

  it('leaves no task token behind when it ends the workflow, even one a late wait stored', async () => {
    const { record, created } = await uploaded(mp4());
    await storeTaskToken(
      steps.table.store,
      record.pk,
      'stored-after-its-wait-timed-out',
      WAITING_STATUSES,
      AT,
    );
    await steps.sim.settled();
    expect((await poll(pollDeps(), { pk: record.pk, fileId: created.fileId, uploadedAt: AT })).outcome).toBe(
      'READY',
    );
    expect(present(await getRecord(steps.table.store, record.pk), 'the record').taskToken).toBeUndefined();
  });

  it('keeps the token while it sends the workflow back to wait', async () => {
    // Bytes not sent yet: VideoGen cannot have made it ready, however slow this machine is.
    const record = await acceptedRecord();
    const created = await createVideoGenFile(createDeps(), { pk: record.pk });
    await storeTaskToken(steps.table.store, record.pk, 'current', WAITING_STATUSES, AT);
    expect(
      (
        await poll(pollDeps(), {
          pk: record.pk,
          fileId: created.fileId,
          uploadedAt: new Date().toISOString(),
        })
      ).outcome,
    ).toBe('WAITING');
    expect((await getRecord(steps.table.store, record.pk))?.taskToken).toBe('current');
  });

  it('records TIMED_OUT past the max wait', async () => {
    const { record, created } = await uploaded(mp4());
    const result = await poll(pollDeps(60, new Date(Date.parse(AT) + 61_000)), {
      pk: record.pk,
      fileId: created.fileId,
      uploadedAt: AT,
    });
    expect(result).toEqual({ outcome: 'TIMED_OUT', status: 'TIMED_OUT' });
    expect(await getRecord(steps.table.store, record.pk)).toMatchObject({
      status: 'TIMED_OUT',
      error: { code: 'TIMED_OUT' },
    });
  });

  it('answers FAILED when VideoGen failed the file', async () => {
    steps.sim.faults.add({ fault: 'fail_processing' });
    const { record, created } = await uploaded(mp4());
    await steps.sim.settled();
    expect(await poll(pollDeps(), { pk: record.pk, fileId: created.fileId, uploadedAt: AT })).toEqual({
      outcome: 'FAILED',
      status: 'FAILED',
    });
  });
});
