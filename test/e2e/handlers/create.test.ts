import { describe, expect, it } from 'vitest';
import { createVideoGenFile } from '../../../lambdas/transfer/create.ts';
import { getRecord, findSourceOfFile } from '#shared/ingest/store';
import { VideoGenClient } from '#shared/videogen/index';
import { VideoGenSimulator } from '#local/simulator/simulator';
import { useWorkflowSteps } from '../../helpers/workflow-steps.ts';

const steps = useWorkflowSteps();
const { acceptedRecord, createDeps } = steps;

describe('Create', () => {
  it('creates the VideoGen file with the record’s options and records it with its pointer', async () => {
    const record = await acceptedRecord();

    const output = await createVideoGenFile(createDeps(), { pk: record.pk });

    expect(steps.sim.file(output.fileId)?.file).toMatchObject({
      displayName: 'a.mp4',
      type: 'VIDEO',
      isTemporary: false,
    });
    expect(await getRecord(steps.table.store, record.pk)).toMatchObject({
      status: 'CREATED',
      fileId: output.fileId,
      attempts: 1,
    });
    expect(await findSourceOfFile(steps.table.store, output.fileId)).toBe(record.pk);
  });

  it('honours a 429 and retries in the Lambda, then succeeds', async () => {
    steps.sim.faults.add({ fault: 'rate_limit', on: 'create', nth: 1, retryAfterSeconds: 0 });
    const record = await acceptedRecord();
    await expect(createVideoGenFile(createDeps(), { pk: record.pk })).resolves.toHaveProperty('fileId');
    expect(
      steps.sim
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
    expect((await getRecord(steps.table.store, record.pk))?.abandonedFileIds).toHaveLength(1);
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
      expect((await getRecord(steps.table.store, record.pk))?.status).toBe('RECEIVED');
    } finally {
      await strict.close();
    }
  });
});
