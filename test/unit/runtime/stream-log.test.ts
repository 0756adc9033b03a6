import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalStreams, type StreamRecord } from '#local/services/dynamodb/dynamodb-streams';
import { StreamRecordLog } from '#local/services/dynamodb/stream-log';

const folders: string[] = [];
const opened: LocalStreams[] = [];
afterEach(() => {
  for (const streams of opened.splice(0)) streams.close();
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

function folder(): string {
  const made = mkdtempSync(path.join(tmpdir(), 'stream-log-'));
  folders.push(made);
  return made;
}

function streamsIn(directory: string | undefined, now: () => number = Date.now) {
  const streams = new LocalStreams({
    region: 'us-east-1',
    account: '000000000000',
    now,
    ...(directory ? { directory } : {}),
  });
  opened.push(streams);
  const description = streams.enable('items', 'NEW_AND_OLD_IMAGES', [
    { AttributeName: 'pk', KeyType: 'HASH' },
  ]);
  const call = (operation: string, body: Record<string, unknown>): unknown =>
    JSON.parse(streams.handle(operation, body));
  const iterator = (type: string, SequenceNumber?: string) =>
    (
      call('GetShardIterator', {
        StreamArn: description.arn,
        ShardId: description.shardId,
        ShardIteratorType: type,
        ...(SequenceNumber ? { SequenceNumber } : {}),
      }) as { ShardIterator: string }
    ).ShardIterator;
  /** Every record from `type` on, page by page of `limit`. */
  const readAll = (type = 'TRIM_HORIZON', limit = 1000, SequenceNumber?: string): StreamRecord[] => {
    const records: StreamRecord[] = [];
    let shardIterator = iterator(type, SequenceNumber);
    for (;;) {
      const page = call('GetRecords', { ShardIterator: shardIterator, Limit: limit }) as {
        Records: StreamRecord[];
        NextShardIterator: string;
      };
      if (page.Records.length === 0) return records;
      records.push(...page.Records);
      shardIterator = page.NextShardIterator;
    }
  };
  return { streams, description, readAll };
}

/** Keys with characters of one to four UTF-8 bytes: the log finds records by byte offset. */
const KEYS = ['plain.mp4', 'café/ü.png', '映像/クリップ.mov', '🎬 take 2.mp4'];

function writeFiles(streams: LocalStreams, count: number): StreamRecord[] {
  return Array.from({ length: count }, (_, index) => {
    const pk = `${KEYS[index % KEYS.length] ?? ''} #${index}`;
    return streams.record(
      'items',
      index % 3 === 0 ? undefined : { pk: { S: pk }, status: { S: 'UPLOADING' } },
      { pk: { S: pk }, status: { S: 'READY' }, size: { N: String(index * 1000) } },
    ) as StreamRecord;
  });
}

describe.each([
  ['in memory', () => undefined],
  ['in a folder', folder],
])('stream records kept %s', (_, directory) => {
  it('reads back every record as written, in order, page by page and from any sequence number', () => {
    const { streams, readAll } = streamsIn(directory());
    const written = writeFiles(streams, 250);
    expect(readAll('TRIM_HORIZON', 7)).toEqual(written);
    const middle = written[120] as StreamRecord;
    expect(readAll('AT_SEQUENCE_NUMBER', 1000, middle.dynamodb.SequenceNumber)).toEqual(written.slice(120));
    expect(readAll('AFTER_SEQUENCE_NUMBER', 1000, middle.dynamodb.SequenceNumber)).toEqual(
      written.slice(121),
    );
    expect(readAll('LATEST')).toEqual([]);
  });

  it('drops records past 24 hours, however many have gathered, and keeps reading the rest', () => {
    let now = Date.parse('2026-12-01T00:00:00Z');
    const { streams, readAll } = streamsIn(directory(), () => now);
    // More than the log gathers before it splices dropped entries out.
    const old = writeFiles(streams, 5000);
    now += 12 * 3_600_000;
    const recent = writeFiles(streams, 10);
    now += 13 * 3_600_000; // the first 5,000 are 25 hours old
    expect(readAll()).toEqual(recent);
    expect(() => readAll('AT_SEQUENCE_NUMBER', 1000, old[4999]?.dynamodb.SequenceNumber)).toThrow(
      expect.objectContaining({ type: 'TrimmedDataAccessException' }),
    );
    const later = writeFiles(streams, 3);
    expect(readAll()).toEqual([...recent, ...later]);
  });
});

describe('stream records in a folder', () => {
  it('outlive the process, numbered on, without what retention dropped, in a log that does not grow', () => {
    let now = Date.parse('2026-12-01T00:00:00Z');
    const directory = folder();
    const first = streamsIn(directory, () => now);
    const expired = writeFiles(first.streams, 40);
    now += 23 * 3_600_000;
    const kept = writeFiles(first.streams, 60);
    first.streams.close();
    now += 2 * 3_600_000; // the first 40 are past retention
    const second = streamsIn(directory, () => now);
    expect(second.description.arn).toBe(first.description.arn);
    expect(second.readAll()).toEqual(kept);
    expect(() => second.readAll('AT_SEQUENCE_NUMBER', 1000, expired[0]?.dynamodb.SequenceNumber)).toThrow(
      expect.objectContaining({ type: 'TrimmedDataAccessException' }),
    );
    const log = readFileSync(path.join(directory, 'stream-records.jsonl'), 'utf8');
    expect(log.trim().split('\n')).toHaveLength(60);
    const next = writeFiles(second.streams, 1);
    expect(BigInt(next[0]?.dynamodb.SequenceNumber ?? '0')).toBe(
      BigInt(kept.at(-1)?.dynamodb.SequenceNumber ?? '0') + 1n,
    );
    expect(second.readAll()).toEqual([...kept, ...next]);
  });

  it('skips a line a crash cut short, and keeps the lines around it', () => {
    const directory = folder();
    const first = streamsIn(directory);
    const written = writeFiles(first.streams, 3);
    first.streams.close();
    const file = path.join(directory, 'stream-records.jsonl');
    const lines = readFileSync(file, 'utf8').split('\n');
    writeFileSync(file, [lines[0], lines[1], (lines[2] ?? '').slice(0, 40)].join('\n'));
    expect(streamsIn(directory).readAll()).toEqual(written.slice(0, 2));
  });
});

describe('the stream log of a runtime left running', () => {
  const ARN = 'arn:aws:dynamodb:us-east-1:000000000000:table/items/stream/1';
  function log(compactAtBytes: number) {
    const file = path.join(folder(), 'stream-records.jsonl');
    const records = new StreamRecordLog(file, { compactAtBytes });
    records.open(ARN);
    const append = (sequence: number, createdSeconds: number) =>
      records.append({
        arn: ARN,
        sequence,
        createdSeconds,
        // Shaped as a stream record: a restart reads the sequence and the time from it.
        text: JSON.stringify({
          dynamodb: {
            SequenceNumber: String(sequence).padStart(21, '0'),
            ApproximateCreationDateTime: createdSeconds,
            Keys: { pk: { S: `café 🎬 ${sequence}` } },
          },
        }),
      });
    const sequences = (from = 0) =>
      records
        .page(ARN, from, 1000)
        .texts.map((text) => Number((JSON.parse(text) as StreamRecord).dynamodb.SequenceNumber));
    return { file, records, append, sequences };
  }
  const range = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, index) => from + index);

  it('is rewritten without what retention dropped once that is most of it, and reads on', () => {
    const { file, records, append, sequences } = log(1000);
    for (let sequence = 1; sequence <= 100; sequence += 1) append(sequence, sequence < 80 ? 1 : 2);
    const before = statSync(file).size;
    records.trim(ARN, 2);
    records.compact();
    expect(statSync(file).size).toBeLessThan(before / 3);
    expect(sequences()).toEqual(range(80, 100));
    expect(sequences(95)).toEqual(range(95, 100));
    append(101, 3);
    expect(sequences(100)).toEqual([100, 101]);
    records.close();
    const restarted = new StreamRecordLog(file);
    restarted.open(ARN);
    expect(restarted.load(() => true).map((record) => record.sequence)).toEqual(range(80, 101));
    expect(restarted.page(ARN, 0, 1000).texts).toEqual(records.page(ARN, 0, 1000).texts);
    restarted.close();
  });

  it('is left as it is while what was dropped is less than what is kept, or small', () => {
    for (const [compactAtBytes, droppedBelow] of [
      [1000, 30],
      [1_000_000, 80],
    ] as const) {
      const { file, records, append, sequences } = log(compactAtBytes);
      for (let sequence = 1; sequence <= 100; sequence += 1)
        append(sequence, sequence < droppedBelow ? 1 : 2);
      const before = statSync(file).size;
      records.trim(ARN, 2);
      records.compact();
      expect(statSync(file).size).toBe(before);
      expect(sequences()).toEqual(range(droppedBelow, 100));
      records.close();
    }
  });
});
