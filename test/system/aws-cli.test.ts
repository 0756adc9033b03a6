/**
 * The local endpoints with the real AWS CLI (Debian's `awscli`, v2.9: `.ci/run` installs
 * it), as a user drives them: `aws s3 sync` of a whole library, then DynamoDB, Step
 * Functions and SQS (which this CLI speaks in SQS's query protocol, XML).
 */
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '#local/runtime/runtime';
import { png } from '#local/media';
import { startRuntime } from '../helpers/runtime.ts';
import { awsCli } from '../helpers/aws-cli.ts';

const FILES = 200;

let runtime: LocalRuntime;
let library: string;

/** `aws …` against one of the runtime's endpoints. */
function aws(endpoint: string, ...args: string[]): Promise<unknown> {
  return awsCli({ endpoint, region: runtime.ops.region, home: library }, ...args);
}

beforeAll(async () => {
  runtime = await startRuntime();
  library = await mkdtemp(path.join(tmpdir(), 'videogen-aws-cli-'));
  // A library's files are older than their sync. S3 dates objects to the second, so a file
  // written in the second of its upload looks newer than its object, and a second sync would
  // send it again (as against S3 itself).
  const written = new Date(Date.now() - 60_000);
  for (let index = 0; index < FILES; index++) {
    const file = path.join(library, `photo-${String(index).padStart(3, '0')}.png`);
    await writeFile(file, png(2 + (index % 7), 3));
    await utimes(file, written, written);
  }
}, 60_000);
afterAll(async () => {
  await runtime.stop();
  await rm(library, { recursive: true, force: true });
});

describe('the local endpoints with the real AWS CLI', () => {
  it('aws s3 sync of a whole library: every file ingested once; s3 ls lists them, page by page', async () => {
    await aws(runtime.s3Endpoint, 's3', 'sync', library, `s3://${runtime.bucket}/library/`, '--no-progress');
    await runtime.idle(180_000);
    const records = await runtime.records();
    expect(records).toHaveLength(FILES);
    expect(records.every((record) => /READY|ANALYZED/.test(record.status))).toBe(true);
    // In pages of 7: the CLI follows 29 continuation tokens (and decodes `encoding-type=url` keys).
    const listed = String(
      await aws(runtime.s3Endpoint, 's3', 'ls', `s3://${runtime.bucket}/library/`, '--page-size', '7'),
    );
    expect(listed.trim().split('\n')).toHaveLength(FILES);
    // A second sync sends nothing: S3 has every file already.
    expect(
      String(await aws(runtime.s3Endpoint, 's3', 'sync', library, `s3://${runtime.bucket}/library/`)),
    ).toBe('');
  }, 240_000);

  it('aws dynamodb scan and get-item read the records', async () => {
    const { dynamodb } = runtime.ops.endpoints;
    const counted = (await aws(
      dynamodb,
      'dynamodb',
      'scan',
      '--table-name',
      runtime.tableName,
      '--select',
      'COUNT',
    )) as {
      Count: number;
    };
    expect(counted.Count).toBeGreaterThanOrEqual(FILES);
    const [first] = await runtime.records();
    const item = (await aws(
      dynamodb,
      'dynamodb',
      'get-item',
      '--table-name',
      runtime.tableName,
      '--key',
      JSON.stringify({ pk: { S: first?.pk } }),
    )) as { Item: { key: { S: string }; status: { S: string } } };
    expect(item.Item.key.S).toBe(first?.key);
    expect(item.Item.status.S).toBe(first?.status);
  });

  it("aws dynamodbstreams lists, describes and reads the table's stream: each file's lifecycle, in order", async () => {
    const { dynamodb } = runtime.ops.endpoints;
    const table = (await aws(dynamodb, 'dynamodb', 'describe-table', '--table-name', runtime.tableName)) as {
      Table: { LatestStreamArn: string; StreamSpecification: { StreamViewType: string } };
    };
    expect(table.Table.StreamSpecification.StreamViewType).toBe('NEW_AND_OLD_IMAGES');
    const streamArn = table.Table.LatestStreamArn;
    const listed = (await aws(
      dynamodb,
      'dynamodbstreams',
      'list-streams',
      '--table-name',
      runtime.tableName,
    )) as {
      Streams: { StreamArn: string }[];
    };
    expect(listed.Streams.map((stream) => stream.StreamArn)).toEqual([streamArn]);
    const described = (await aws(
      dynamodb,
      'dynamodbstreams',
      'describe-stream',
      '--stream-arn',
      streamArn,
    )) as {
      StreamDescription: { StreamStatus: string; Shards: { ShardId: string }[] };
    };
    expect(described.StreamDescription.StreamStatus).toBe('ENABLED');
    const shardId = described.StreamDescription.Shards[0]?.ShardId ?? '';
    let { ShardIterator: iterator } = (await aws(
      dynamodb,
      'dynamodbstreams',
      'get-shard-iterator',
      '--stream-arn',
      streamArn,
      '--shard-id',
      shardId,
      '--shard-iterator-type',
      'TRIM_HORIZON',
    )) as { ShardIterator: string };
    const statuses = new Map<string, string[]>();
    let previousSequence = 0n;
    for (;;) {
      const page = (await aws(dynamodb, 'dynamodbstreams', 'get-records', '--shard-iterator', iterator)) as {
        Records: {
          eventName: string;
          dynamodb: {
            SequenceNumber: string;
            NewImage?: { kind?: { S: string }; key?: { S: string }; status?: { S: string } };
          };
        }[];
        NextShardIterator: string;
      };
      if (page.Records.length === 0) break;
      for (const record of page.Records) {
        const sequence = BigInt(record.dynamodb.SequenceNumber);
        expect(sequence).toBeGreaterThan(previousSequence);
        previousSequence = sequence;
        const image = record.dynamodb.NewImage;
        if (image?.kind?.S !== 'ingest' || !image.key || !image.status) continue;
        const seen = statuses.get(image.key.S) ?? [];
        if (seen.at(-1) !== image.status.S) seen.push(image.status.S);
        statuses.set(image.key.S, seen);
      }
      iterator = page.NextShardIterator;
    }
    // Every file of the sync, from its insert to where it ended, each status in turn.
    expect(statuses.size).toBeGreaterThanOrEqual(FILES);
    for (const record of await runtime.records()) {
      const seen = statuses.get(record.key) ?? [];
      expect(seen[0], record.key).toBe('RECEIVED');
      expect(seen.at(-1), record.key).toBe(record.status);
    }
  });

  it('aws stepfunctions list-state-machines, describe-state-machine, list-executions and describe-execution show the workflows', async () => {
    const { sfn } = runtime.ops.endpoints;
    const machines = (await aws(sfn, 'stepfunctions', 'list-state-machines')) as {
      stateMachines: { stateMachineArn: string; type: string }[];
    };
    expect(machines.stateMachines).toEqual([
      expect.objectContaining({ stateMachineArn: runtime.ops.stateMachineArn, type: 'STANDARD' }),
    ]);
    const machine = (await aws(
      sfn,
      'stepfunctions',
      'describe-state-machine',
      '--state-machine-arn',
      runtime.ops.stateMachineArn,
    )) as { status: string; definition: string; roleArn: string };
    expect(machine.status).toBe('ACTIVE');
    expect(Object.keys((JSON.parse(machine.definition) as { States: object }).States)).toContain('Prepare');
    expect(machine.roleArn).toMatch(/^arn:aws:iam::\d{12}:role\//);
    const listed = (await aws(
      sfn,
      'stepfunctions',
      'list-executions',
      '--state-machine-arn',
      runtime.ops.stateMachineArn,
      '--status-filter',
      'SUCCEEDED',
    )) as { executions: { executionArn: string }[] };
    expect(listed.executions.length).toBeGreaterThanOrEqual(FILES);
    const described = (await aws(
      sfn,
      'stepfunctions',
      'describe-execution',
      '--execution-arn',
      listed.executions[0]?.executionArn ?? '',
    )) as { status: string; input: string };
    expect(described.status).toBe('SUCCEEDED');
    expect(JSON.parse(described.input)).toMatchObject({ source: { bucket: runtime.bucket } });
  });

  it('aws sqs (the query protocol): list-queues, get-queue-attributes, send, receive and delete on the dead-letter queue', async () => {
    const { sqs } = runtime.ops.endpoints;
    const queues = (await aws(sqs, 'sqs', 'list-queues')) as { QueueUrls: string[] };
    expect(queues.QueueUrls).toContain(runtime.ops.deadLetterQueueUrl);
    const queueUrl = runtime.ops.deadLetterQueueUrl;
    const before = (await aws(
      sqs,
      'sqs',
      'get-queue-attributes',
      '--queue-url',
      queueUrl,
      '--attribute-names',
      'All',
    )) as {
      Attributes: Record<string, string>;
    };
    expect(before.Attributes.ApproximateNumberOfMessages).toBe('0');
    await aws(sqs, 'sqs', 'send-message', '--queue-url', queueUrl, '--message-body', '{"a": "<b> & c"}');
    const received = (await aws(
      sqs,
      'sqs',
      'receive-message',
      '--queue-url',
      queueUrl,
      '--attribute-names',
      'All',
    )) as {
      Messages: { Body: string; ReceiptHandle: string; Attributes: Record<string, string> }[];
    };
    expect(received.Messages[0]?.Body).toBe('{"a": "<b> & c"}');
    expect(received.Messages[0]?.Attributes.ApproximateReceiveCount).toBe('1');
    await aws(
      sqs,
      'sqs',
      'delete-message',
      '--queue-url',
      queueUrl,
      '--receipt-handle',
      received.Messages[0]?.ReceiptHandle ?? '',
    );
    // The ingest queue belongs to its event source mapping: receiving from it is refused.
    await expect(
      aws(sqs, 'sqs', 'receive-message', '--queue-url', runtime.ops.ingestQueueUrl),
    ).rejects.toThrow(/InvalidParameterValue/);
  });
});
