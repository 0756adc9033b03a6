import type { DynamoDBStreamEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalStreams, type StreamRecord } from '#local/services/dynamodb/dynamodb-streams';
import {
  StreamEventSourceMapping,
  type OnFailureRecord,
  type StreamMappingOptions,
  type StreamReader,
} from '#local/services/dynamodb/stream-event-source-mapping';

const running: StreamEventSourceMapping[] = [];
afterEach(() => {
  for (const mapping of running.splice(0)) mapping.close();
});

/** A table's stream, read through the Streams API as the mapping reads it. */
function stream() {
  const streams = new LocalStreams({ region: 'us-east-1', account: '000000000000' });
  const description = streams.enable('items', 'NEW_AND_OLD_IMAGES', [
    { AttributeName: 'pk', KeyType: 'HASH' },
    { AttributeName: 'sk', KeyType: 'RANGE' },
  ]);
  const reader: StreamReader = {
    shardId: () => Promise.resolve(description.shardId),
    iterator: (ShardId, ShardIteratorType, SequenceNumber) =>
      Promise.resolve(
        (
          JSON.parse(
            streams.handle('GetShardIterator', {
              StreamArn: description.arn,
              ShardId,
              ShardIteratorType,
              ...(SequenceNumber ? { SequenceNumber } : {}),
            }),
          ) as { ShardIterator: string }
        ).ShardIterator,
      ),
    read: (ShardIterator) => {
      const { Records, NextShardIterator } = JSON.parse(streams.handle('GetRecords', { ShardIterator })) as {
        Records: StreamRecord[];
        NextShardIterator: string;
      };
      return Promise.resolve({ records: Records, next: NextShardIterator });
    },
  };
  const versions = new Map<string, number>();
  /** Writes version n+1 of an item (a MODIFY after the first INSERT). */
  const write = (pk: string, sk = 'record') => {
    const id = `${pk}/${sk}`;
    const version = (versions.get(id) ?? 0) + 1;
    versions.set(id, version);
    const image = (v: number) => ({ pk: { S: pk }, sk: { S: sk }, version: { N: String(v) } });
    return streams.record(
      'items',
      version === 1 ? undefined : image(version - 1),
      image(version),
    ) as StreamRecord;
  };
  return { streams, description, reader, write };
}

type Invocation = { keys: string[]; ok: boolean };

function mapping(
  source: ReturnType<typeof stream>,
  handler: (event: DynamoDBStreamEvent) => unknown,
  options: Partial<StreamMappingOptions> = {},
) {
  const invocations: Invocation[] = [];
  const onFailure: OnFailureRecord[] = [];
  const label = (record: DynamoDBStreamEvent['Records'][number]) =>
    `${record.dynamodb?.Keys?.pk?.S}:${record.dynamodb?.NewImage?.version?.N}`;
  const started = new StreamEventSourceMapping({
    functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:subscriber',
    streamArn: source.description.arn,
    reader: source.reader,
    invoke: async (event) => {
      try {
        const result = await handler(event);
        invocations.push({ keys: event.Records.map(label), ok: true });
        return result;
      } catch (error) {
        invocations.push({ keys: event.Records.map(label), ok: false });
        throw error;
      }
    },
    sendToOnFailure: (record) => {
      onFailure.push(record);
      return Promise.resolve();
    },
    startingPosition: 'TRIM_HORIZON',
    pollIntervalMs: 5,
    retryPauseMs: 1,
    log: () => undefined,
    ...options,
  });
  running.push(started);
  return { mapping: started, invocations, onFailure };
}

const delivered = (invocations: Invocation[]) =>
  invocations.filter((call) => call.ok).flatMap((call) => call.keys);

describe('a DynamoDB stream event source mapping', () => {
  it('delivers matching records in batches, in stream order, and checkpoints past them', async () => {
    const source = stream();
    const written = Array.from({ length: 7 }, (_, n) => source.write(`file-${n}`));
    const saved: string[] = [];
    const { mapping: subscription, invocations } = mapping(source, () => undefined, {
      batchSize: 3,
      filters: [
        { Pattern: JSON.stringify({ dynamodb: { Keys: { pk: { S: [{ 'anything-but': ['file-3'] }] } } } }) },
      ],
      checkpoint: { load: () => undefined, save: (sequence) => saved.push(sequence) },
    });
    await subscription.start();
    await subscription.idle();
    expect(invocations.map((call) => call.keys)).toEqual([
      ['file-0:1', 'file-1:1', 'file-2:1'],
      ['file-4:1', 'file-5:1', 'file-6:1'],
    ]);
    expect(subscription.figures).toMatchObject({ delivered: 6, filteredOut: 1, invocations: 2 });
    expect(saved.at(-1)).toBe(written.at(-1)?.dynamodb.SequenceNumber);
  });

  it('bisects around a record that throws, gives it up to the on-failure queue, and delivers every other record once, in order', async () => {
    const source = stream();
    for (let n = 0; n < 10; n += 1) source.write(n % 2 === 0 ? 'even' : 'odd');
    const poisonSequence = source.write('bad').dynamodb.SequenceNumber;
    for (let n = 0; n < 5; n += 1) source.write(n % 2 === 0 ? 'even' : 'odd');
    const {
      mapping: subscription,
      invocations,
      onFailure,
    } = mapping(
      source,
      (event) => {
        // Checks the whole batch before acting on any of it.
        if (event.Records.some((record) => record.dynamodb?.Keys?.pk?.S === 'bad'))
          throw new Error('cannot parse');
      },
      { batchSize: 8, bisectOnError: true, maxRetryAttempts: 2, reportBatchItemFailures: true },
    );
    await subscription.start();
    await subscription.idle();
    const good = delivered(invocations);
    expect(good).toHaveLength(15);
    expect(new Set(good).size).toBe(15);
    for (const pk of ['even', 'odd']) {
      const versions = good.filter((key) => key.startsWith(`${pk}:`)).map((key) => Number(key.split(':')[1]));
      expect(versions).toEqual([...versions].sort((a, b) => a - b));
    }
    expect(invocations.filter((call) => call.keys.length === 1 && call.keys[0] === 'bad:1')).toHaveLength(3);
    expect(onFailure).toHaveLength(1);
    expect(onFailure[0]).toMatchObject({
      requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3 },
      responseContext: { functionError: 'Unhandled' },
      version: '1.0',
      DDBStreamBatchInfo: {
        shardId: source.description.shardId,
        startSequenceNumber: poisonSequence,
        endSequenceNumber: poisonSequence,
        batchSize: 1,
        streamArn: source.description.arn,
      },
    });
    expect(subscription.figures.sentToOnFailure).toBe(1);
  });

  it('with ReportBatchItemFailures, checkpoints at the lowest reported record and retries from there', async () => {
    const source = stream();
    const records = ['a', 'b', 'c', 'd'].map((pk) => source.write(pk));
    let first = true;
    const { mapping: subscription, invocations } = mapping(
      source,
      () => {
        if (!first) return { batchItemFailures: [] };
        first = false;
        return {
          batchItemFailures: [
            { itemIdentifier: records[3]?.dynamodb.SequenceNumber },
            { itemIdentifier: records[1]?.dynamodb.SequenceNumber },
          ],
        };
      },
      { batchSize: 10, reportBatchItemFailures: true },
    );
    await subscription.start();
    await subscription.idle();
    expect(invocations.map((call) => call.keys)).toEqual([
      ['a:1', 'b:1', 'c:1', 'd:1'],
      ['b:1', 'c:1', 'd:1'],
    ]);
    expect(subscription.figures).toMatchObject({ delivered: 4, failedInvocations: 1 });
  });

  it('treats an itemIdentifier that names no record of the batch as a failure of all of it', async () => {
    const source = stream();
    source.write('a');
    let calls = 0;
    const { mapping: subscription } = mapping(
      source,
      () => {
        calls += 1;
        return calls === 1 ? { batchItemFailures: [{ itemIdentifier: '' }] } : undefined;
      },
      { reportBatchItemFailures: true },
    );
    await subscription.start();
    await subscription.idle();
    expect(calls).toBe(2);
    expect(subscription.figures).toMatchObject({ delivered: 1, failedInvocations: 1 });
  });

  it('retries a throttled invocation without spending an attempt', async () => {
    const source = stream();
    source.write('a');
    let calls = 0;
    const { mapping: subscription, onFailure } = mapping(
      source,
      () => {
        calls += 1;
        if (calls <= 4)
          throw Object.assign(new Error('Rate Exceeded.'), { name: 'TooManyRequestsException' });
      },
      { maxRetryAttempts: 0 },
    );
    await subscription.start();
    await subscription.idle();
    expect(calls).toBe(5);
    expect(onFailure).toEqual([]);
    expect(subscription.figures.delivered).toBe(1);
  });

  it('gives up records older than MaximumRecordAgeInSeconds with RecordAgeExceeded', async () => {
    const source = stream();
    source.write('old');
    const now = Date.now() + 120_000;
    const {
      mapping: subscription,
      onFailure,
      invocations,
    } = mapping(source, () => undefined, {
      maxRecordAgeSeconds: 60,
      now: () => now,
    });
    await subscription.start();
    await subscription.idle();
    expect(invocations).toEqual([]);
    expect(onFailure.map((record) => record.requestContext.condition)).toEqual(['RecordAgeExceeded']);
  });

  it('runs ParallelizationFactor batches at once, each item in one lane and in order', async () => {
    const source = stream();
    for (let n = 0; n < 40; n += 1) source.write(`item-${n % 8}`);
    let inFlight = 0;
    let peak = 0;
    const { mapping: subscription, invocations } = mapping(
      source,
      async () => {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 10));
        inFlight -= 1;
      },
      { batchSize: 2, parallelizationFactor: 4 },
    );
    await subscription.start();
    await subscription.idle();
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(4);
    const good = delivered(invocations);
    expect(good).toHaveLength(40);
    for (let n = 0; n < 8; n += 1) {
      expect(good.filter((key) => key.startsWith(`item-${n}:`))).toEqual(
        [1, 2, 3, 4, 5].map((v) => `item-${n}:${v}`),
      );
    }
  });

  it('waits up to MaximumBatchingWindowInSeconds to fill a batch', async () => {
    const source = stream();
    source.write('a');
    const { mapping: subscription, invocations } = mapping(source, () => undefined, {
      batchSize: 3,
      batchingWindowSeconds: 1,
    });
    await subscription.start();
    await new Promise((resolve) => setTimeout(resolve, 200));
    source.write('b');
    source.write('c');
    await subscription.idle();
    expect(invocations.map((call) => call.keys)).toEqual([['a:1', 'b:1', 'c:1']]);
  });

  it('starts after its saved checkpoint, and at LATEST without one', async () => {
    const source = stream();
    const written = ['a', 'b', 'c'].map((pk) => source.write(pk));
    const resumed = mapping(source, () => undefined, {
      checkpoint: { load: () => written[0]?.dynamodb.SequenceNumber, save: () => undefined },
    });
    await resumed.mapping.start();
    await resumed.mapping.idle();
    expect(delivered(resumed.invocations)).toEqual(['b:1', 'c:1']);
    const latest = mapping(source, () => undefined, { startingPosition: 'LATEST' });
    await latest.mapping.start();
    source.write('d');
    await new Promise((resolve) => setTimeout(resolve, 50));
    await latest.mapping.idle();
    expect(delivered(latest.invocations)).toEqual(['d:1']);
  });
});
