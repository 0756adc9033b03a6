import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LocalRuntime } from '#local/runtime/runtime';
import { runOps } from '#ops/cli';
import { NotRetryableError, UnknownIngestError } from '#ops/ops';
import {
  fromEndpoints,
  LocalRuntimeNotRunningError,
  localTarget,
  MissingCredentialsError,
  StackNotFoundError,
  stackTarget,
} from '#ops/target';
import { mp4, png } from '#local/media';
import { ingestAll, startRuntime } from '../helpers/runtime.ts';
import type { OpsCommandName } from '#ops/commands';
import { present } from '../helpers/present.ts';

let runtime: LocalRuntime;
/** Runs a command the way the bin does, against this runtime; answers its stdout. */
async function ops(command: OpsCommandName, ...args: string[]): Promise<string> {
  const printed: string[] = [];
  const code = await runOps(
    command,
    args,
    (text) => printed.push(text),
    () => Promise.resolve(fromEndpoints(runtime.ops, 'the local runtime')),
  );
  expect(code).toBe(0);
  return printed.join('\n');
}

beforeAll(async () => {
  // A developer's shell often names a profile; the local runtime's handlers must not use it.
  vi.stubEnv('AWS_PROFILE', 'a-profile-the-emulators-do-not-know');
  runtime = await startRuntime();
  runtime.simulator?.faults.add({ fault: 'fail_processing', displayName: 'broken.mp4' });
  await ingestAll(runtime, { 'fine.png': { body: png() }, 'broken.mp4': { body: mp4() } });
  await runtime.simulator?.settled(); // fine.png analyzed too
}, 60_000);
afterAll(async () => {
  await runtime.stop();
});

describe('videogen-ingest status', () => {
  it('lists ingests as a table, newest change first', async () => {
    const table = (await ops('status')).split('\n');
    expect(table[0]).toMatch(/^STATUS\s+UPDATED\s+SOURCE\s+FILE\s+ERROR$/);
    expect(
      table
        .slice(1)
        .map((line) => line.split(/\s+/)[0])
        .sort(),
    ).toEqual(['ANALYZED', 'FAILED']);
    expect(table.join('\n')).toContain(`s3://${runtime.bucket}/broken.mp4`);
    expect(table.join('\n')).toContain('VIDEOGEN_PROCESSING_FAILED');
  });

  it('filters by status and age, as JSON', async () => {
    const failed = JSON.parse(await ops('status', '--status', 'FAILED', '--json')) as { key: string }[];
    expect(failed.map((record) => record.key)).toEqual(['broken.mp4']);
    expect(JSON.parse(await ops('status', '--since', '1h', '--json'))).toHaveLength(2);
    const future = JSON.parse(await ops('status', '--since', '0s', '--json')) as unknown[];
    expect(future.length).toBeLessThan(2);
  });

  it('says how many more match than --limit shows, in the table and beside the JSON', async () => {
    const table = (await ops('status', '--limit', '1')).split('\n');
    expect(table).toHaveLength(3);
    expect(table[2]).toBe('… and 1 more (use --limit 2 to see them all)');
    const warned: string[] = [];
    const printed: string[] = [];
    await runOps(
      'status',
      ['--limit', '1', '--json'],
      (text) => printed.push(text),
      () => Promise.resolve(fromEndpoints(runtime.ops, 'the local runtime')),
      (text) => warned.push(text),
    );
    expect(JSON.parse(printed.join('\n'))).toHaveLength(1);
    expect(warned).toEqual(['… and 1 more (use --limit 2 to see them all)']);
  });

  it('refuses a status or duration it does not know, with the usage', async () => {
    await expect(ops('status', '--status', 'DONE')).rejects.toThrow(/--status must be one of RECEIVED/);
    await expect(ops('status', '--since', 'yesterday')).rejects.toThrow(/--since takes a duration/);
  });
});

describe('videogen-ingest show', () => {
  it('prints the record and its event history, by key or by file id', async () => {
    const byKey = JSON.parse(await ops('show', 'fine.png', '--json')) as {
      record: { fileId: string; status: string; taskToken?: string };
      history: { event: string }[];
    };
    expect(byKey.record.status).toBe('ANALYZED');
    expect(byKey.record.taskToken).toBeUndefined();
    expect(byKey.history.map((entry) => entry.event)).toEqual(
      expect.arrayContaining(['ingest.received', 'file.upload.completed', 'file.download_ready']),
    );
    const byFileId = await ops('show', byKey.record.fileId);
    expect(byFileId).toContain('"key": "fine.png"');
    expect(byFileId).toMatch(/History:\n {2}\S+ {2}ingest\.received/);
  });

  it('says clearly when a key is unknown', async () => {
    await expect(ops('show', 'nope.mp4')).rejects.toThrow(UnknownIngestError);
    await expect(ops('show', 'vg_file_missing')).rejects.toThrow(
      /no ingest of VideoGen file vg_file_missing/,
    );
  });
});

describe('videogen-ingest retry', () => {
  it('restarts a FAILED ingest: a new execution, a new VideoGen file, the old one kept as abandoned', async () => {
    const before = (await runtime.records()).find((record) => record.key === 'broken.mp4');
    runtime.simulator?.faults.clear(); // the cause is fixed
    expect(await ops('retry', 'broken.mp4')).toMatch(
      /broken\.mp4 was FAILED; retrying in arn:aws:states:.*:execution:/,
    );
    await runtime.idle();
    await runtime.simulator?.settled();
    const after = (await runtime.records()).find((record) => record.key === 'broken.mp4');
    expect(after).toMatchObject({ status: 'ANALYZED', retries: 1, abandonedFileIds: [before?.fileId] });
    expect(after?.fileId).not.toBe(before?.fileId);
  });

  it('refuses an ingest that did not fail', async () => {
    await expect(ops('retry', 'fine.png')).rejects.toThrow(NotRetryableError);
    await expect(ops('retry', 'fine.png')).rejects.toThrow(/only FAILED or TIMED_OUT ingests are retried/);
  });
});

describe('videogen-ingest retry --status', () => {
  it('refuses a key together with --status, and a status that is not retried', async () => {
    await expect(ops('retry', 'fine.png', '--status', 'FAILED')).rejects.toThrow(/not both/);
    await expect(ops('retry', '--status', 'READY')).rejects.toThrow(
      /only FAILED or TIMED_OUT ingests are retried, not READY/,
    );
  });
});

describe('videogen-ingest replay-dlq', () => {
  it('moves dead-lettered S3 events back to the ingest queue, where duplicates change nothing', async () => {
    const body = present(runtime.lastS3Event(), 'the last S3 event');
    runtime.queues.deadLetters.send(body);
    runtime.queues.deadLetters.send(body);
    const startsBefore = runtime.lambdas.invocations.starter ?? 0;
    const recordsBefore = await runtime.records();

    expect(await ops('replay-dlq')).toBe('moved 2 message(s) from the dead-letter queue to the ingest queue');
    await runtime.idle();
    expect(runtime.queues.deadLetters.depth).toBe(0);
    expect(runtime.lambdas.invocations.starter ?? 0).toBeGreaterThan(startsBefore);
    expect((await runtime.records()).map((record) => record.status)).toEqual(
      recordsBefore.map((record) => record.status),
    );
    expect(JSON.parse(await ops('replay-dlq', '--json'))).toEqual({ moved: 0 });
  });
});

describe('videogen-ingest reconcile', () => {
  it('finds an object whose ingest never happened, reports it in a dry run, then ingests it through the queue', async () => {
    // An S3 event lost (dead-lettered past retention): its object is there, its record never was.
    const target = fromEndpoints(runtime.ops, 'the local runtime');
    const lost = present(
      (await runtime.records()).find((record) => record.key === 'fine.png'),
      "fine.png's record",
    );
    await target.documents.send(new DeleteCommand({ TableName: runtime.tableName, Key: { pk: lost.pk } }));
    target.close();

    expect(JSON.parse(await ops('reconcile', '--dry-run', '--json'))).toEqual({
      objects: 2,
      unrecorded: ['fine.png'],
      unfinished: [],
      dryRun: true,
    });
    await runtime.idle();
    expect((await runtime.records()).some((record) => record.key === 'fine.png')).toBe(false);

    expect(await ops('reconcile')).toContain(
      '1 without an ingest record: sent to the ingest queue\n  fine.png',
    );
    await runtime.idle();
    const again = (await runtime.records()).find((record) => record.key === 'fine.png');
    expect(again?.status).toMatch(/READY|ANALYZED/);
    expect(again?.fileId).not.toBe(lost.fileId);
    expect(JSON.parse(await ops('reconcile', '--json'))).toMatchObject({ unrecorded: [] });
  });
});

describe('finding the target', () => {
  it('finds a deployed stack through its outputs', async () => {
    const cloudFormation = mockClient(CloudFormationClient);
    cloudFormation.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'VideoGenIngest',
          CreationTime: new Date(),
          StackStatus: 'CREATE_COMPLETE',
          Outputs: [
            { OutputKey: 'BucketName', OutputValue: 'drop-bucket' },
            { OutputKey: 'TableName', OutputValue: 'ingest-table' },
            { OutputKey: 'StateMachineArn', OutputValue: 'arn:aws:states:eu-west-1:1:stateMachine:sm' },
            { OutputKey: 'IngestQueueUrl', OutputValue: 'https://sqs/1/ingest' },
            { OutputKey: 'DeadLetterQueueUrl', OutputValue: 'https://sqs/1/dlq' },
          ],
        },
      ],
    });
    try {
      const target = await stackTarget(
        'VideoGenIngest',
        'eu-west-1',
        new CloudFormationClient({ region: 'eu-west-1' }),
      );
      expect(target).toMatchObject({
        description: 'stack VideoGenIngest (eu-west-1)',
        tableName: 'ingest-table',
        deadLetterQueueUrl: 'https://sqs/1/dlq',
      });
      target.close();
    } finally {
      cloudFormation.restore();
    }
  });

  it('says when the stack does not exist, or is not ours', async () => {
    const cloudFormation = mockClient(CloudFormationClient);
    try {
      const error = new Error('Stack with id Nope does not exist');
      error.name = 'ValidationError';
      cloudFormation.on(DescribeStacksCommand, { StackName: 'Nope' }).rejects(error);
      cloudFormation.on(DescribeStacksCommand, { StackName: 'Other' }).resolves({
        Stacks: [
          { StackName: 'Other', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: [] },
        ],
      });
      const client = () => new CloudFormationClient({ region: 'eu-west-1' });
      await expect(stackTarget('Nope', 'eu-west-1', client())).rejects.toThrow(
        new StackNotFoundError(
          'no stack Nope (eu-west-1): deploy it with "npx cdk deploy", or name the region with --region',
        ),
      );
      await expect(stackTarget('Other', 'eu-west-1', client())).rejects.toThrow(
        /lacks the outputs BucketName, TableName/,
      );
    } finally {
      cloudFormation.restore();
    }
  });

  it('says when there are no AWS credentials', async () => {
    const client = new CloudFormationClient({
      region: 'eu-west-1',
      credentials: () =>
        Promise.reject(
          Object.assign(new Error('Could not load credentials from any providers'), {
            name: 'CredentialsProviderError',
          }),
        ),
    });
    await expect(stackTarget('VideoGenIngest', 'eu-west-1', client)).rejects.toThrow(MissingCredentialsError);
  });

  it('finds the local runtime through the file `start` writes in its state folder, and says when it is gone', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'ops-'));
    try {
      const file = path.join(dir, 'local.json');
      await expect(localTarget(dir)).rejects.toThrow(LocalRuntimeNotRunningError);
      await writeFile(file, JSON.stringify({ ...runtime.ops, pid: process.pid }));
      const target = await localTarget(dir);
      expect(target.tableName).toBe(runtime.tableName);
      target.close();
      await writeFile(file, JSON.stringify({ ...runtime.ops, pid: 2 ** 22 + 7 }));
      await expect(localTarget(dir)).rejects.toThrow(/is gone: start it again/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a transfer that finishes after its wait in the queue timed out', () => {
  it('is FAILED, and its retry adopts the VideoGen file that got the bytes: nothing is sent twice', async () => {
    const late = await startRuntime({
      // The shortest maxQueueWait the construct takes is a minute: the Transfer state's
      // timeout is cut to 2 s in the definition instead.
      maxQueueWaitSeconds: 60,
      editTemplate: (template) => {
        for (const resource of Object.values(template.Resources)) {
          if (resource.Type !== 'AWS::StepFunctions::StateMachine') continue;
          const join = (resource.Properties?.DefinitionString as { 'Fn::Join': [string, unknown[]] })[
            'Fn::Join'
          ];
          join[1] = join[1].map((part) =>
            typeof part === 'string' ? part.replace('"TimeoutSeconds":60', '"TimeoutSeconds":2') : part,
          );
        }
      },
      simulator: { faults: [{ fault: 'slow', on: 'put', delayMs: 4000, times: 1 }] },
    });
    try {
      const body = mp4(30_000);
      const failed = (await ingestAll(late, { 'late.mp4': { body } }))['late.mp4'];
      expect(failed).toMatchObject({ status: 'FAILED', error: { code: 'TransferQueueTimeoutError' } });
      // The PUT was under way: VideoGen gets the bytes after the record said FAILED.
      await expect
        .poll(() => late.simulator?.uploads().filter((upload) => upload.outcome === 'stored').length, {
          timeout: 10_000,
        })
        .toBe(1);
      // VideoGen's events for those bytes still enrich the FAILED record; a retry asked while
      // one lands finds the record changed and is skipped ("look again"), so let them land.
      await late.simulator?.settled();
      await late.idle();

      const printed: string[] = [];
      const code = await runOps(
        'retry',
        ['late.mp4'],
        (text) => printed.push(text),
        () => Promise.resolve(fromEndpoints(late.ops, 'the local runtime')),
      );
      expect(code).toBe(0);
      expect(printed.join('\n')).not.toMatch(/changed meanwhile/);
      await late.idle();
      await late.simulator?.settled();

      const after = (await late.records()).find((record) => record.key === 'late.mp4');
      expect(after).toMatchObject({
        status: 'ANALYZED',
        fileId: failed?.fileId,
        abandonedFileIds: [],
        retries: 1,
      });
      expect(late.simulator?.uploads().filter((upload) => upload.outcome === 'stored')).toHaveLength(1);
      expect(late.simulator?.requests().filter((request) => request.op === 'create')).toHaveLength(1);
    } finally {
      await late.stop();
    }
    // A queue timeout, a slow PUT, VideoGen's processing of the late bytes, then the retry.
  }, 60_000);
});
