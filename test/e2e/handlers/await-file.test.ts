import { SendTaskSuccessCommand, SFNClient, TaskTimedOut } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { awaitFile } from '../../../lambdas/await-file/await-file.ts';
import { createVideoGenFile } from '../../../lambdas/transfer/create.ts';
import { getRecord } from '#shared/ingest/store';
import { claimSource } from '#shared/ingest/claims';
import { receivedRecord } from '../../fixtures/records.ts';
import { useWorkflowSteps } from '../../helpers/workflow-steps.ts';

const steps = useWorkflowSteps();
const { sfn, now, acceptedRecord, createDeps } = steps;

describe('WaitForFile (await-file)', () => {
  it('stores the token while the file is not ready', async () => {
    const record = await acceptedRecord();
    await createVideoGenFile(createDeps(), { pk: record.pk });
    expect(
      await awaitFile(
        { store: steps.table.store, sfn: new SFNClient({}), now },
        { pk: record.pk, taskToken: 'tok' },
      ),
    ).toEqual({ stored: true });
    expect((await getRecord(steps.table.store, record.pk))?.taskToken).toBe('tok');
    expect(sfn.calls()).toHaveLength(0);
  });

  it('resumes the workflow itself when the webhook got there first', async () => {
    const record = receivedRecord({ status: 'READY' }, steps.nextKey());
    await claimSource(steps.table.store, record);
    sfn.on(SendTaskSuccessCommand).resolves({});

    expect(
      await awaitFile(
        { store: steps.table.store, sfn: new SFNClient({}), now },
        { pk: record.pk, taskToken: 'tok' },
      ),
    ).toEqual({ stored: false });
    expect(sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input).toEqual({
      taskToken: 'tok',
      output: JSON.stringify({ outcome: 'READY', status: 'READY' }),
    });
  });

  it('treats a token whose wait already ended as answered', async () => {
    const record = receivedRecord({ status: 'FAILED' }, steps.nextKey());
    await claimSource(steps.table.store, record);
    sfn.on(SendTaskSuccessCommand).rejects(new TaskTimedOut({ message: 'timed out', $metadata: {} }));
    await expect(
      awaitFile(
        { store: steps.table.store, sfn: new SFNClient({}), now },
        { pk: record.pk, taskToken: 'old' },
      ),
    ).resolves.toEqual({ stored: false });
  });
});
