import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockAwsClient } from '../../helpers/aws-mocks.ts';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  executionName,
  START_CLOCK_TOLERANCE_MS,
  startIngest,
  toWorkflowInput,
} from '../../../lambdas/starter/starter.ts';
import { objectCreated } from '../../fixtures/s3-events.ts';
import { dropKeyPattern, matchesDropFilter } from '#shared/drop-filter';

const sfn = mockAwsClient(SFNClient);
beforeEach(() => {
  sfn.reset();
  sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec' });
});

const deps = (filter = { prefix: '', suffixes: [] as string[] }) => ({
  sfn: new SFNClient({}),
  stateMachineArn: 'arn:sm',
  filter,
});

describe('executionName', () => {
  it('is the same for a redelivered event and different for a new version or PUT', () => {
    const base = toWorkflowInput(objectCreated('a/b c+d%e.mp4')).source;
    expect(executionName(base)).toBe(executionName(toWorkflowInput(objectCreated('a/b c+d%e.mp4')).source));
    expect(executionName(base)).not.toBe(
      executionName(toWorkflowInput(objectCreated('a/b c+d%e.mp4', { versionId: 'v2' })).source),
    );
    expect(executionName(base)).not.toBe(
      executionName(toWorkflowInput(objectCreated('a/b c+d%e.mp4', { sequencer: '0002' })).source),
    );
  });

  it('fits Step Functions: at most 80 of [A-Za-z0-9_-], for any key', () => {
    for (const key of ['a.mp4', 'ünïcødé/日本語の動画.mov', `${'x'.repeat(900)}.mp4`, 'folder/', '++%%  ']) {
      expect(executionName(toWorkflowInput(objectCreated(key)).source)).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
    }
  });
});

describe('startIngest', () => {
  it('starts the workflow with the object as input', async () => {
    expect(await startIngest(deps(), objectCreated('in/clip.MP4'))).toBe('started');
    const input = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(input?.stateMachineArn).toBe('arn:sm');
    expect(JSON.parse(input?.input ?? '')).toEqual({
      source: {
        bucket: 'drop',
        key: 'in/clip.MP4',
        versionId: 'v1',
        etag: 'etag1',
        size: 10,
        sequencer: '0001',
        eventTime: '2026-11-24T10:00:00Z',
      },
    });
  });

  it('treats an execution that already exists as a duplicate event, not an error', async () => {
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    expect(await startIngest(deps(), objectCreated('clip.mp4'))).toBe('duplicate');
  });

  it('counts a redelivered event of a running execution as a duplicate, as Step Functions answers it with success', async () => {
    const calledAt = Date.parse('2026-11-24T10:05:00Z');
    sfn
      .on(StartExecutionCommand)
      .resolves({ executionArn: 'arn:exec', startDate: new Date('2026-11-24T10:00:00Z') });
    expect(await startIngest({ ...deps(), now: () => calledAt }, objectCreated('clip.mp4'))).toBe(
      'duplicate',
    );
  });

  it('counts a start dated at the call, within clock skew, as started', async () => {
    const calledAt = Date.parse('2026-11-24T10:05:00Z');
    sfn
      .on(StartExecutionCommand)
      .resolves({ executionArn: 'arn:exec', startDate: new Date(calledAt - START_CLOCK_TOLERANCE_MS / 2) });
    expect(await startIngest({ ...deps(), now: () => calledAt }, objectCreated('clip.mp4'))).toBe('started');
  });

  it('skips keys outside the prefix or suffixes, comparing suffixes without case', async () => {
    const filtered = deps({ prefix: 'in/', suffixes: ['.mp4', '.PNG'] });
    expect(await startIngest(filtered, objectCreated('out/clip.mp4'))).toBe('filtered');
    expect(await startIngest(filtered, objectCreated('in/notes.txt'))).toBe('filtered');
    expect(await startIngest(filtered, objectCreated('in/photo.png'))).toBe('started');
    expect(await startIngest(filtered, objectCreated('in/CLIP.Mp4'))).toBe('started');
  });
});

describe('drop filter', () => {
  it('never ingests a console "folder" placeholder', () => {
    expect(matchesDropFilter('in/', { prefix: '', suffixes: [] })).toBe(false);
  });

  it('makes the EventBridge key pattern from the same filter', () => {
    expect(dropKeyPattern({ prefix: '', suffixes: [] })).toBeUndefined();
    expect(dropKeyPattern({ prefix: 'in/', suffixes: [] })).toEqual([{ prefix: 'in/' }]);
    expect(dropKeyPattern({ prefix: '', suffixes: ['.mp4', '.mov'] })).toEqual([
      { suffix: { 'equals-ignore-case': '.mp4' } },
      { suffix: { 'equals-ignore-case': '.mov' } },
    ]);
  });
});
