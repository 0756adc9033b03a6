/**
 * DynamoDB Streams for the local DynamoDB: the records a table's writes yield, and the
 * Streams API (`ListStreams`, `DescribeStream`, `GetShardIterator`, `GetRecords`) that
 * reads them, as the DynamoDB Streams developer guide documents them.
 *
 * Written by hand because neither dynalite nor any maintained JavaScript emulator has
 * streams. One shard per stream (a valid stream: DynamoDB splits shards only under load),
 * so order is kept per item and across items alike. Records are kept 24 hours; with a
 * folder, they and the stream's description outlive the process (`stream-log.ts`).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AttributeValue, KeySchemaElement } from '@aws-sdk/client-dynamodb';
import { itemSize, sameItem, type Item } from './dynamodb-items.ts';
import { StreamRecordLog } from './stream-log.ts';

export type StreamViewType = 'KEYS_ONLY' | 'NEW_IMAGE' | 'OLD_IMAGE' | 'NEW_AND_OLD_IMAGES';

/** A stream record as `GetRecords` answers it (and as Lambda passes it on). */
export interface StreamRecord {
  readonly eventID: string;
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly eventVersion: '1.1';
  readonly eventSource: 'aws:dynamodb';
  readonly awsRegion: string;
  readonly dynamodb: {
    /** Seconds since the epoch, as the JSON protocol carries timestamps. */
    readonly ApproximateCreationDateTime: number;
    readonly Keys: Item;
    readonly NewImage?: Item;
    readonly OldImage?: Item;
    readonly SequenceNumber: string;
    readonly SizeBytes: number;
    readonly StreamViewType: StreamViewType;
  };
}

interface StreamDescription {
  readonly arn: string;
  readonly label: string;
  readonly tableName: string;
  readonly viewType: StreamViewType;
  readonly keySchema: KeySchemaElement[];
  readonly shardId: string;
  /** Epoch seconds. */
  readonly createdAt: number;
}

/** A Streams API error, answered as `{ __type, message }` with status 400. */
export class StreamsApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

export const STREAM_RETENTION_MS = 24 * 60 * 60 * 1000;
/** A shard iterator expires 15 minutes after it is returned. */
const ITERATOR_LIFETIME_MS = 15 * 60 * 1000;
/** `GetRecords` returns at most 1,000 records (or 1 MB). */
const MAX_GET_RECORDS = 1000;
const SEQUENCE_DIGITS = 21;

/** What a shard iterator says: where in which shard, and when it was returned. AWS's begin with the stream ARN too. */
interface IteratorPosition {
  /** The sequence number of the next record to read (a number; records at or after it). */
  readonly from: string;
  readonly issuedAt: number;
}

function encodeIterator(arn: string, position: IteratorPosition): string {
  return `${arn}|1|${Buffer.from(JSON.stringify(position)).toString('base64url')}`;
}

function decodeIterator(iterator: string): { arn: string; position: IteratorPosition } {
  const [arn = '', version, token = ''] = iterator.split('|');
  try {
    if (version !== '1') throw new Error('version');
    const position = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as IteratorPosition;
    if (typeof position.from !== 'string' || typeof position.issuedAt !== 'number') throw new Error('shape');
    return { arn, position };
  } catch {
    throw new StreamsApiError('ValidationException', `Invalid ShardIterator: ${iterator.slice(0, 80)}`);
  }
}

/** A sequence number as the API writes it: 21 digits. */
function sequenceText(sequence: number): string {
  return String(sequence).padStart(SEQUENCE_DIGITS, '0');
}

function nextSequence(sequence: string): string {
  return (BigInt(sequence) + 1n).toString().padStart(SEQUENCE_DIGITS, '0');
}

export interface LocalStreamsOptions {
  readonly region: string;
  readonly account: string;
  /** Keep streams and their records in this folder across restarts. */
  readonly directory?: string;
  /** @default Date.now */
  readonly now?: () => number;
}

/** Every table's stream: what writes append, and what the Streams API reads. */
export class LocalStreams {
  readonly #options: LocalStreamsOptions;
  readonly #now: () => number;
  readonly #streams = new Map<string, StreamDescription>();
  readonly #log: StreamRecordLog;
  /** The highest record dropped from each stream by retention: an iterator at or before it reads trimmed data. */
  readonly #trimmedThrough = new Map<string, string>();
  /** Sequence numbers increase across every stream (DynamoDB's have gaps too). */
  #lastSequence = 0;
  readonly #descriptionsFile: string | undefined;

  constructor(options: LocalStreamsOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#log = new StreamRecordLog(
      options.directory ? path.join(options.directory, 'stream-records.jsonl') : undefined,
    );
    if (options.directory) {
      this.#descriptionsFile = path.join(options.directory, 'streams.json');
      this.#load();
    }
  }

  /** Closes the log of records (a folder's); the object is not used after. */
  close(): void {
    this.#log.close();
  }

  /** Turns on a table's stream (`StreamSpecification` at CreateTable); its description. */
  enable(tableName: string, viewType: StreamViewType, keySchema: KeySchemaElement[]): StreamDescription {
    const known = this.#streams.get(tableName);
    if (known) return known;
    const createdMs = this.#now();
    const label = new Date(createdMs).toISOString().replace(/Z$/, '');
    const stream: StreamDescription = {
      arn: `arn:aws:dynamodb:${this.#options.region}:${this.#options.account}:table/${tableName}/stream/${label}`,
      label,
      tableName,
      viewType,
      keySchema,
      shardId: `shardId-${String(createdMs).padStart(20, '0')}-${randomBytes(4).toString('hex')}`,
      createdAt: Math.floor(createdMs / 1000),
    };
    this.#streams.set(tableName, stream);
    this.#log.open(stream.arn);
    this.#saveDescriptions();
    return stream;
  }

  /** The table's stream, if it has one. */
  of(tableName: string): StreamDescription | undefined {
    return this.#streams.get(tableName);
  }

  /** Forgets a table's stream (DeleteTable). */
  disable(tableName: string): void {
    const stream = this.#streams.get(tableName);
    if (!stream) return;
    this.#streams.delete(tableName);
    this.#log.drop(stream.arn);
    this.#saveDescriptions();
  }

  /**
   * Appends the record a write yields: INSERT, MODIFY or REMOVE from the item before and
   * after it, nothing when the write changed nothing.
   */
  record(tableName: string, before: Item | undefined, after: Item | undefined): StreamRecord | undefined {
    const stream = this.#streams.get(tableName);
    if (!stream || sameItem(before, after)) return undefined;
    const item = (after ?? before) as Item;
    const keys = Object.fromEntries(
      stream.keySchema.map(({ AttributeName: name = '' }) => [name, item[name] as AttributeValue]),
    );
    const withNew = stream.viewType === 'NEW_IMAGE' || stream.viewType === 'NEW_AND_OLD_IMAGES';
    const withOld = stream.viewType === 'OLD_IMAGE' || stream.viewType === 'NEW_AND_OLD_IMAGES';
    const newImage = withNew ? after : undefined;
    const oldImage = withOld ? before : undefined;
    this.#lastSequence += 1;
    const createdSeconds = Math.floor(this.#now() / 1000);
    const record: StreamRecord = {
      eventID: randomUUID().replaceAll('-', ''),
      eventName: !before ? 'INSERT' : !after ? 'REMOVE' : 'MODIFY',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: this.#options.region,
      dynamodb: {
        ApproximateCreationDateTime: createdSeconds,
        Keys: keys,
        ...(newImage ? { NewImage: newImage } : {}),
        ...(oldImage ? { OldImage: oldImage } : {}),
        SequenceNumber: sequenceText(this.#lastSequence),
        SizeBytes: itemSize(keys) + itemSize(newImage) + itemSize(oldImage),
        StreamViewType: stream.viewType,
      },
    };
    this.#log.append({
      arn: stream.arn,
      sequence: this.#lastSequence,
      createdSeconds,
      text: JSON.stringify(record),
    });
    return record;
  }

  /** A Streams API call: its answer's JSON, or a `StreamsApiError`. */
  handle(operation: string, body: Record<string, unknown>): string {
    this.#trim();
    switch (operation) {
      case 'ListStreams':
        return JSON.stringify(this.#listStreams(body));
      case 'DescribeStream':
        return JSON.stringify(this.#describeStream(body));
      case 'GetShardIterator':
        return JSON.stringify(this.#getShardIterator(body));
      case 'GetRecords':
        return this.#getRecords(body);
      default:
        throw new StreamsApiError(
          'UnknownOperationException',
          `${operation} is not a DynamoDB Streams operation`,
        );
    }
  }

  #streamByArn(arn: unknown): StreamDescription {
    const stream = [...this.#streams.values()].find((candidate) => candidate.arn === arn);
    if (!stream)
      throw new StreamsApiError(
        'ResourceNotFoundException',
        `Requested resource not found: Stream: ${String(arn)} not found`,
      );
    return stream;
  }

  #listStreams(body: Record<string, unknown>) {
    const limit = typeof body.Limit === 'number' ? body.Limit : 100;
    const all = [...this.#streams.values()]
      .filter((stream) => body.TableName === undefined || stream.tableName === body.TableName)
      .sort((a, b) => a.arn.localeCompare(b.arn));
    const start =
      typeof body.ExclusiveStartStreamArn === 'string'
        ? all.findIndex((s) => s.arn === body.ExclusiveStartStreamArn) + 1
        : 0;
    const page = all.slice(start, start + limit);
    const last = page.at(-1);
    return {
      Streams: page.map((stream) => ({
        StreamArn: stream.arn,
        TableName: stream.tableName,
        StreamLabel: stream.label,
      })),
      ...(last && start + limit < all.length ? { LastEvaluatedStreamArn: last.arn } : {}),
    };
  }

  #describeStream(body: Record<string, unknown>) {
    const stream = this.#streamByArn(body.StreamArn);
    const first = this.#oldestKept(stream.arn);
    return {
      StreamDescription: {
        StreamArn: stream.arn,
        StreamLabel: stream.label,
        StreamStatus: 'ENABLED',
        StreamViewType: stream.viewType,
        CreationRequestDateTime: stream.createdAt,
        TableName: stream.tableName,
        KeySchema: stream.keySchema,
        Shards: [{ ShardId: stream.shardId, SequenceNumberRange: { StartingSequenceNumber: first } }],
      },
    };
  }

  #getShardIterator(body: Record<string, unknown>) {
    const stream = this.#streamByArn(body.StreamArn);
    if (body.ShardId !== stream.shardId) {
      throw new StreamsApiError(
        'ResourceNotFoundException',
        `Requested resource not found: Shard: ${String(body.ShardId)} in Stream: ${stream.arn} not found`,
      );
    }
    const sequence = typeof body.SequenceNumber === 'string' ? body.SequenceNumber : undefined;
    let from: string;
    switch (body.ShardIteratorType) {
      case 'TRIM_HORIZON':
        from = this.#oldestKept(stream.arn);
        break;
      case 'LATEST':
        from = sequenceText(this.#lastSequence + 1);
        break;
      case 'AT_SEQUENCE_NUMBER':
      case 'AFTER_SEQUENCE_NUMBER': {
        if (!sequence || !/^\d+$/.test(sequence)) {
          throw new StreamsApiError(
            'ValidationException',
            `SequenceNumber is required for ${body.ShardIteratorType}`,
          );
        }
        const trimmed = this.#trimmedThrough.get(stream.arn);
        if (trimmed && BigInt(sequence) <= BigInt(trimmed)) {
          throw new StreamsApiError(
            'TrimmedDataAccessException',
            `Sequence number ${sequence} is beyond the stream's trim horizon`,
          );
        }
        from = body.ShardIteratorType === 'AT_SEQUENCE_NUMBER' ? sequence : nextSequence(sequence);
        break;
      }
      default:
        throw new StreamsApiError(
          'ValidationException',
          `ShardIteratorType must be TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER`,
        );
    }
    return { ShardIterator: encodeIterator(stream.arn, { from, issuedAt: this.#now() }) };
  }

  /** Its answer's JSON: the records' texts as the log keeps them, not parsed and written again. */
  #getRecords(body: Record<string, unknown>): string {
    if (typeof body.ShardIterator !== 'string')
      throw new StreamsApiError('ValidationException', 'ShardIterator is required');
    const { arn, position } = decodeIterator(body.ShardIterator);
    const stream = this.#streamByArn(arn);
    if (this.#now() - position.issuedAt > ITERATOR_LIFETIME_MS) {
      throw new StreamsApiError(
        'ExpiredIteratorException',
        'Iterator expired. The iterator was created more than 15 minutes ago',
      );
    }
    const trimmed = this.#trimmedThrough.get(stream.arn);
    if (trimmed && BigInt(position.from) <= BigInt(trimmed)) {
      throw new StreamsApiError(
        'TrimmedDataAccessException',
        `Records up to ${trimmed} are past the stream's 24-hour retention`,
      );
    }
    const limit = Math.min(typeof body.Limit === 'number' ? body.Limit : MAX_GET_RECORDS, MAX_GET_RECORDS);
    const page = this.#log.page(stream.arn, Number(position.from), limit);
    const next = page.lastSequence === undefined ? position.from : sequenceText(page.lastSequence + 1);
    // The shard never closes, so there is always a next iterator.
    const iterator = encodeIterator(stream.arn, { from: next, issuedAt: this.#now() });
    return `{"Records":[${page.texts.join(',')}],"NextShardIterator":${JSON.stringify(iterator)}}`;
  }

  /** The sequence number of the stream's oldest kept record, or of its next one when it keeps none. */
  #oldestKept(arn: string): string {
    return sequenceText(this.#log.firstSequence(arn) ?? this.#lastSequence + 1);
  }

  /** The oldest record a stream keeps was created at or after this (epoch seconds). */
  #horizonSeconds(): number {
    return Math.floor((this.#now() - STREAM_RETENTION_MS) / 1000);
  }

  /** Drops records past the 24-hour retention. */
  #trim(): void {
    const horizon = this.#horizonSeconds();
    let trimmed = false;
    for (const stream of this.#streams.values()) {
      const dropped = this.#log.trim(stream.arn, horizon);
      if (dropped === undefined) continue;
      this.#trimmedThrough.set(stream.arn, sequenceText(dropped));
      trimmed = true;
    }
    if (trimmed) this.#log.compact();
  }

  #saveDescriptions(): void {
    if (!this.#descriptionsFile) return;
    writeFileSync(this.#descriptionsFile, JSON.stringify([...this.#streams.values()]));
  }

  #load(): void {
    if (this.#descriptionsFile && existsSync(this.#descriptionsFile)) {
      for (const stream of JSON.parse(readFileSync(this.#descriptionsFile, 'utf8')) as StreamDescription[]) {
        this.#streams.set(stream.tableName, stream);
        this.#log.open(stream.arn);
      }
    }
    const known = new Set([...this.#streams.values()].map((stream) => stream.arn));
    const horizon = this.#horizonSeconds();
    // Records past retention go, and the log is written anew without them.
    this.#log.load((record) => {
      this.#lastSequence = Math.max(this.#lastSequence, record.sequence);
      if (!known.has(record.arn)) return false;
      if (record.createdSeconds >= horizon) return true;
      this.#trimmedThrough.set(record.arn, sequenceText(record.sequence));
      return false;
    });
  }
}
