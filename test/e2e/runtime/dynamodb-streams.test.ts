import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListStreamsCommand,
  type _Record,
} from '@aws-sdk/client-dynamodb-streams';
import { afterEach, describe, expect, it } from 'vitest';
import { startDynamoDB, type LocalDynamoDB } from '#local/services/dynamodb/dynamodb';
import { LocalStreams } from '#local/services/dynamodb/dynamodb-streams';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
let dynamo: LocalDynamoDB | undefined;
let folder: string | undefined;

afterEach(async () => {
  await dynamo?.close();
  dynamo = undefined;
  if (folder) await rm(folder, { recursive: true, force: true });
  folder = undefined;
});

async function table(viewType = 'NEW_AND_OLD_IMAGES', directory?: string) {
  dynamo = await startDynamoDB(directory ? { directory } : {});
  const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials });
  const streams = new DynamoDBStreamsClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials });
  await client
    .send(
      new CreateTableCommand({
        TableName: 'items',
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        StreamSpecification: { StreamEnabled: true, StreamViewType: viewType as 'NEW_AND_OLD_IMAGES' },
      }),
    )
    .catch((error: unknown) => {
      if ((error as Error).name !== 'ResourceInUseException') throw error;
    });
  const { Table } = await client.send(new DescribeTableCommand({ TableName: 'items' }));
  const streamArn = Table?.LatestStreamArn ?? '';
  const read = async (type: 'TRIM_HORIZON' | 'LATEST' = 'TRIM_HORIZON'): Promise<_Record[]> => {
    const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    const shardId = StreamDescription?.Shards?.[0]?.ShardId ?? '';
    const { ShardIterator } = await streams.send(
      new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shardId, ShardIteratorType: type }),
    );
    const { Records = [] } = await streams.send(new GetRecordsCommand({ ShardIterator }));
    return Records;
  };
  return { client, streams, streamArn, read, Table };
}

const item = (sk: string, extra: Record<string, { S: string }> = {}) => ({
  pk: { S: 'file' },
  sk: { S: sk },
  ...extra,
});

describe('DynamoDB Streams, local', () => {
  it('describes the table with its stream, and lists it', async () => {
    const { streams, streamArn, Table } = await table();
    expect(Table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });
    expect(streamArn).toMatch(
      /^arn:aws:dynamodb:us-east-1:\d{12}:table\/items\/stream\/\d{4}-\d\d-\d\dT[\d:.]+$/,
    );
    const { Streams } = await streams.send(new ListStreamsCommand({ TableName: 'items' }));
    expect(Streams).toEqual([
      { StreamArn: streamArn, TableName: 'items', StreamLabel: Table?.LatestStreamLabel },
    ]);
  });

  it('yields INSERT, MODIFY and REMOVE with keys, both images and increasing sequence numbers', async () => {
    const { client, read } = await table();
    await client.send(
      new PutItemCommand({ TableName: 'items', Item: item('a', { status: { S: 'CREATED' } }) }),
    );
    await client.send(
      new UpdateItemCommand({
        TableName: 'items',
        Key: item('a'),
        UpdateExpression: 'SET #s = :s',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':s': { S: 'READY' } },
      }),
    );
    await client.send(new DeleteItemCommand({ TableName: 'items', Key: item('a') }));
    const records = await read();
    expect(records.map((record) => record.eventName)).toEqual(['INSERT', 'MODIFY', 'REMOVE']);
    const [insert, modify, remove] = records;
    expect(insert?.dynamodb?.Keys).toEqual(item('a'));
    expect(insert?.dynamodb?.NewImage).toEqual(item('a', { status: { S: 'CREATED' } }));
    expect(insert?.dynamodb?.OldImage).toBeUndefined();
    expect(modify?.dynamodb?.OldImage?.status).toEqual({ S: 'CREATED' });
    expect(modify?.dynamodb?.NewImage?.status).toEqual({ S: 'READY' });
    expect(remove?.dynamodb?.NewImage).toBeUndefined();
    expect(remove?.dynamodb?.OldImage?.status).toEqual({ S: 'READY' });
    const sequences = records.map((record) => BigInt(record.dynamodb?.SequenceNumber ?? '0'));
    expect([...sequences].sort((a, b) => (a < b ? -1 : 1))).toEqual(sequences);
    expect(new Set(records.map((record) => record.eventID)).size).toBe(3);
    for (const record of records) {
      expect(record.eventSource).toBe('aws:dynamodb');
      expect(record.dynamodb?.SizeBytes).toBeGreaterThan(0);
      expect(record.dynamodb?.StreamViewType).toBe('NEW_AND_OLD_IMAGES');
      expect(
        Math.abs((record.dynamodb?.ApproximateCreationDateTime?.getTime() ?? 0) - Date.now()),
      ).toBeLessThan(60_000);
    }
  });

  it('answers each write as its caller asked (ReturnValues), whichever image the record took from it', async () => {
    const { client, read } = await table();
    const put = await client.send(
      new PutItemCommand({ TableName: 'items', Item: item('a', { v: { S: '1' } }) }),
    );
    expect(put.Attributes).toBeUndefined();
    const replaced = await client.send(
      new PutItemCommand({ TableName: 'items', Item: item('a', { v: { S: '2' } }), ReturnValues: 'ALL_OLD' }),
    );
    expect(replaced.Attributes).toEqual(item('a', { v: { S: '1' } }));
    const update = (returnValues?: 'NONE' | 'ALL_NEW' | 'ALL_OLD' | 'UPDATED_NEW', v = '3') =>
      client.send(
        new UpdateItemCommand({
          TableName: 'items',
          Key: item('a'),
          UpdateExpression: 'SET v = :v',
          ExpressionAttributeValues: { ':v': { S: v } },
          ...(returnValues ? { ReturnValues: returnValues } : {}),
        }),
      );
    expect((await update(undefined, '3')).Attributes).toBeUndefined();
    expect((await update('ALL_NEW', '4')).Attributes).toEqual(item('a', { v: { S: '4' } }));
    expect((await update('ALL_OLD', '5')).Attributes).toEqual(item('a', { v: { S: '4' } }));
    expect((await update('UPDATED_NEW', '6')).Attributes).toEqual({ v: { S: '6' } });
    // A value PutItem does not take is refused as DynamoDB refuses it, not answered for the record's sake.
    await expect(
      client.send(new PutItemCommand({ TableName: 'items', Item: item('a'), ReturnValues: 'ALL_NEW' })),
    ).rejects.toMatchObject({ name: 'ValidationException' });
    expect(
      (await client.send(new DeleteItemCommand({ TableName: 'items', Key: item('a') }))).Attributes,
    ).toBe(undefined);
    const images = (await read()).map((record) => [
      record.eventName,
      record.dynamodb?.OldImage?.v?.S,
      record.dynamodb?.NewImage?.v?.S,
    ]);
    expect(images).toEqual([
      ['INSERT', undefined, '1'],
      ['MODIFY', '1', '2'],
      ['MODIFY', '2', '3'],
      ['MODIFY', '3', '4'],
      ['MODIFY', '4', '5'],
      ['MODIFY', '5', '6'],
      ['REMOVE', '6', undefined],
    ]);
  });

  it('sends a checksum that matches each body it sends (the AWS CLI checks it)', async () => {
    await table();
    const call = async (target: string, body: unknown) => {
      const response = await fetch(dynamo?.endpoint ?? '', {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': `DynamoDB_20120810.${target}`,
          authorization:
            'AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x',
          'x-amz-date': '20260101T000000Z',
        },
        body: JSON.stringify(body),
      });
      const text = await response.text();
      expect(response.headers.get('x-amz-crc32')).toBe(String(crc32(text)));
      return text;
    };
    await call('PutItem', { TableName: 'items', Item: item('a', { v: { S: '1' } }) });
    await call('UpdateItem', {
      TableName: 'items',
      Key: item('a'),
      UpdateExpression: 'SET v = :v',
      ExpressionAttributeValues: { ':v': { S: '2' } },
    });
    expect(await call('DescribeTable', { TableName: 'items' })).toContain('LatestStreamArn');
  });

  it('yields nothing for a write that changes nothing or fails its condition', async () => {
    const { client, read } = await table();
    await client.send(new PutItemCommand({ TableName: 'items', Item: item('a', { v: { S: '1' } }) }));
    await client.send(new PutItemCommand({ TableName: 'items', Item: item('a', { v: { S: '1' } }) }));
    await expect(
      client.send(
        new PutItemCommand({
          TableName: 'items',
          Item: item('a', { v: { S: '2' } }),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    ).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    expect((await read()).map((record) => record.eventName)).toEqual(['INSERT']);
  });

  it('gives each item of a transaction and of a batch its record, and a cancelled transaction none', async () => {
    const { client, read } = await table();
    await client.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: 'items', Item: item('t1') } },
          { Put: { TableName: 'items', Item: item('t2') } },
        ],
      }),
    );
    await expect(
      client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: { TableName: 'items', Item: item('t3') } },
            {
              Put: { TableName: 'items', Item: item('t1'), ConditionExpression: 'attribute_not_exists(pk)' },
            },
          ],
        }),
      ),
    ).rejects.toMatchObject({ name: 'TransactionCanceledException' });
    await client.send(
      new BatchWriteItemCommand({
        RequestItems: {
          items: [{ PutRequest: { Item: item('b1') } }, { DeleteRequest: { Key: item('t2') } }],
        },
      }),
    );
    const records = await read();
    expect(records.map((record) => `${record.eventName} ${record.dynamodb?.Keys?.sk?.S}`)).toEqual([
      'INSERT t1',
      'INSERT t2',
      'INSERT b1',
      'REMOVE t2',
    ]);
  });

  it('keeps only the keys on a KEYS_ONLY stream', async () => {
    const { client, read } = await table('KEYS_ONLY');
    await client.send(new PutItemCommand({ TableName: 'items', Item: item('a', { v: { S: '1' } }) }));
    const [record] = await read();
    expect(record?.dynamodb?.Keys).toEqual(item('a'));
    expect(record?.dynamodb?.NewImage).toBeUndefined();
    expect(record?.dynamodb?.OldImage).toBeUndefined();
  });

  it('reads from LATEST, after a sequence number, and page by page', async () => {
    const { client, streams, streamArn, read } = await table();
    for (const sk of ['a', 'b', 'c'])
      await client.send(new PutItemCommand({ TableName: 'items', Item: item(sk) }));
    expect(await read('LATEST')).toEqual([]);
    const all = await read();
    const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    const ShardId = StreamDescription?.Shards?.[0]?.ShardId ?? '';
    const { ShardIterator } = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId,
        ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
        SequenceNumber: all[0]?.dynamodb?.SequenceNumber,
      }),
    );
    const first = await streams.send(new GetRecordsCommand({ ShardIterator, Limit: 1 }));
    expect(first.Records?.map((record) => record.dynamodb?.Keys?.sk?.S)).toEqual(['b']);
    const second = await streams.send(new GetRecordsCommand({ ShardIterator: first.NextShardIterator }));
    expect(second.Records?.map((record) => record.dynamodb?.Keys?.sk?.S)).toEqual(['c']);
    const third = await streams.send(new GetRecordsCommand({ ShardIterator: second.NextShardIterator }));
    expect(third.Records).toEqual([]);
    await client.send(new PutItemCommand({ TableName: 'items', Item: item('d') }));
    const fourth = await streams.send(new GetRecordsCommand({ ShardIterator: third.NextShardIterator }));
    expect(fourth.Records?.map((record) => record.dynamodb?.Keys?.sk?.S)).toEqual(['d']);
    await expect(
      streams.send(new DescribeStreamCommand({ StreamArn: `${streamArn}x` })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('keeps the stream and its records across a restart, numbering on', async () => {
    folder = await mkdtemp(path.join(tmpdir(), 'streams-'));
    const first = await table('NEW_AND_OLD_IMAGES', folder);
    await first.client.send(new PutItemCommand({ TableName: 'items', Item: item('a') }));
    await dynamo?.close();
    const second = await table('NEW_AND_OLD_IMAGES', folder);
    expect(second.streamArn).toBe(first.streamArn);
    await second.client.send(new PutItemCommand({ TableName: 'items', Item: item('b') }));
    const records = await second.read();
    expect(records.map((record) => record.dynamodb?.Keys?.sk?.S)).toEqual(['a', 'b']);
    expect(BigInt(records[1]?.dynamodb?.SequenceNumber ?? '0')).toBeGreaterThan(
      BigInt(records[0]?.dynamodb?.SequenceNumber ?? '0'),
    );
  });
});

describe('stream retention', () => {
  it('drops records after 24 hours, refuses iterators into them, and expires iterators after 15 minutes', () => {
    let now = Date.parse('2026-12-01T00:00:00Z');
    const streams = new LocalStreams({ region: 'us-east-1', account: '000000000000', now: () => now });
    const stream = streams.enable('items', 'NEW_IMAGE', [{ AttributeName: 'pk', KeyType: 'HASH' }]);
    const old = streams.record('items', undefined, { pk: { S: 'old' } });
    now += 23 * 3_600_000;
    streams.record('items', undefined, { pk: { S: 'new' } });
    const iterator = (type: string, SequenceNumber?: string) =>
      (
        JSON.parse(
          streams.handle('GetShardIterator', {
            StreamArn: stream.arn,
            ShardId: stream.shardId,
            ShardIteratorType: type,
            ...(SequenceNumber ? { SequenceNumber } : {}),
          }),
        ) as { ShardIterator: string }
      ).ShardIterator;
    const atOld = iterator('AT_SEQUENCE_NUMBER', old?.dynamodb.SequenceNumber);
    now += 2 * 3_600_000; // the first record is now 25 hours old
    const records = (
      JSON.parse(streams.handle('GetRecords', { ShardIterator: iterator('TRIM_HORIZON') })) as {
        Records: unknown[];
      }
    ).Records;
    expect(records).toHaveLength(1);
    expect(() => streams.handle('GetRecords', { ShardIterator: atOld })).toThrow(/retention|expired/i);
    const fresh = iterator('LATEST');
    now += 16 * 60_000;
    expect(() => streams.handle('GetRecords', { ShardIterator: fresh })).toThrow(
      expect.objectContaining({ type: 'ExpiredIteratorException' }),
    );
  });
});
