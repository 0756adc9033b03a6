/**
 * What a stream event source mapping (`stream-event-source-mapping.ts`) is given: how it
 * reads its stream, where it keeps its checkpoint, its settings as the template names them
 * (`BatchSize`, `ParallelizationFactor`, `MaximumRetryAttempts`, …), and where it tells what
 * became of each record.
 */
import type { DynamoDBStreamEvent } from 'aws-lambda';
import type { StreamRecord } from './dynamodb-streams.ts';
import type { OnFailureRecord } from './stream-failures.ts';

/** How the mapping reads its stream (the Streams API, with the function's role). */
export interface StreamReader {
  /** The stream's (only) shard. */
  shardId(): Promise<string>;
  iterator(
    shardId: string,
    type: 'LATEST' | 'TRIM_HORIZON' | 'AFTER_SEQUENCE_NUMBER',
    sequenceNumber?: string,
  ): Promise<string>;
  read(iterator: string): Promise<{ records: StreamRecord[]; next: string }>;
}

/** Where the mapping keeps its checkpoint between starts (the last record done, in order). */
export interface CheckpointStore {
  load(): string | undefined;
  save(sequenceNumber: string): void;
}

/** What happened to records, for the live view, `show` and tests. */
export interface DeliveryEvent {
  readonly outcome: 'delivered' | 'failed' | 'sent-to-on-failure' | 'filtered-out';
  readonly records: readonly StreamRecord[];
  /** The function's error, for `failed`; the condition, for `sent-to-on-failure`. */
  readonly reason?: string;
  /** When the invocation that delivered (or failed on) the records began, epoch ms. */
  readonly invokedAt?: number;
}

export interface StreamMappingOptions {
  readonly functionArn: string;
  readonly streamArn: string;
  readonly reader: StreamReader;
  readonly invoke: (event: DynamoDBStreamEvent) => Promise<unknown>;
  /** Sends to the `OnFailure` destination; records are given up silently without one. */
  readonly sendToOnFailure?: (record: OnFailureRecord) => Promise<void>;
  readonly filters?: readonly { Pattern: string }[];
  /** @default 100 */
  readonly batchSize?: number;
  /** @default 0 */
  readonly batchingWindowSeconds?: number;
  /** @default 'LATEST' */
  readonly startingPosition?: 'LATEST' | 'TRIM_HORIZON';
  /** @default 1 */
  readonly parallelizationFactor?: number;
  /** @default false */
  readonly bisectOnError?: boolean;
  /** -1: until the record expires. @default -1 */
  readonly maxRetryAttempts?: number;
  /** -1: the stream's retention. @default -1 */
  readonly maxRecordAgeSeconds?: number;
  /** @default false */
  readonly reportBatchItemFailures?: boolean;
  readonly checkpoint?: CheckpointStore;
  readonly onDelivery?: (event: DeliveryEvent) => void;
  /** Lambda polls each shard four times a second. @default 250 */
  readonly pollIntervalMs?: number;
  /** The pause before a failed batch is retried, doubling to 30 s. @default 250 */
  readonly retryPauseMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
  /** Where the mapping says what it cannot do (a read refused, a destination refusing). @default stderr */
  readonly log?: (line: string) => void;
}
