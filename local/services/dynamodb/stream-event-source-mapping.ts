/**
 * A DynamoDB stream event source mapping, as Lambda documents it: the shard polled four
 * times a second; records that match no filter dropped; batches of up to `BatchSize`,
 * gathered for up to `MaximumBatchingWindowInSeconds`; up to `ParallelizationFactor`
 * batches at once, records of one partition key always in the same lane, in order. A failed
 * batch holds its lane until it succeeds, is bisected (`BisectBatchOnFunctionError`:
 * halving does not spend retries), runs out of `MaximumRetryAttempts` or passes
 * `MaximumRecordAgeInSeconds`; then its records are given up, with an invocation record
 * sent to the `OnFailure` destination. With `ReportBatchItemFailures`, the lowest reported
 * sequence number is the checkpoint: the records before it are done, the rest are retried.
 * A throttled invocation is retried without spending an attempt.
 */
import { createHash } from 'node:crypto';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import type { StreamRecord } from './dynamodb-streams.ts';
import { filtersMatch } from '../lambda/event-filter.ts';
import { batchItemFailures, onFailureRecord, type OnFailureRecord } from './stream-failures.ts';
import type { StreamMappingOptions } from './stream-mapping-options.ts';

export type { OnFailureRecord } from './stream-failures.ts';
export type {
  CheckpointStore,
  DeliveryEvent,
  StreamMappingOptions,
  StreamReader,
} from './stream-mapping-options.ts';

/** Errors of Lambda itself, not the function's: retried, never counted as attempts. */
const PLATFORM_ERRORS = new Set([
  'TooManyRequestsException',
  'ResourceNotFoundException',
  'ServiceException',
]);

interface Lane {
  readonly pending: StreamRecord[];
  busy: boolean;
  firstPendingAt: number;
}

interface Batch {
  records: StreamRecord[];
  /** Failed invocations of these records so far (bisecting does not add one). */
  attempts: number;
}

export class StreamEventSourceMapping {
  readonly #options: StreamMappingOptions;
  readonly #now: () => number;
  readonly #log: (line: string) => void;
  readonly #lanes: Lane[];
  /** Sequence numbers read and not yet done, in stream order; the checkpoint follows its head. */
  readonly #unfinished: string[] = [];
  readonly #done = new Set<string>();
  #iterator: string | undefined;
  #shardId = '';
  #lastRead: string | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #windowTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #running = 0;
  /** Whether the last read found nothing new: the mapping has read all the stream has. */
  #caughtUp = false;
  /** Reads of the stream begun so far, and which of them last found nothing new. */
  #readsBegun = 0;
  #caughtUpAtRead = 0;
  /** Figures for the live view, benchmarks and tests. */
  readonly figures = {
    invocations: 0,
    delivered: 0,
    failedInvocations: 0,
    sentToOnFailure: 0,
    filteredOut: 0,
    peakConcurrency: 0,
  };

  constructor(options: StreamMappingOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#log = options.log ?? ((line) => console.error(line));
    this.#lanes = Array.from({ length: options.parallelizationFactor ?? 1 }, () => ({
      pending: [],
      busy: false,
      firstPendingAt: 0,
    }));
  }

  get shardId(): string {
    return this.#shardId;
  }

  /** Records read and not yet done (delivered, filtered out or given up). */
  get backlog(): number {
    return this.#unfinished.length;
  }

  /** Finds the shard and the position to start from (the saved checkpoint, else `StartingPosition`), then polls. */
  async start(): Promise<void> {
    const { reader } = this.#options;
    this.#shardId = await reader.shardId();
    const saved = this.#options.checkpoint?.load();
    this.#lastRead = saved;
    this.#iterator = saved
      ? await reader.iterator(this.#shardId, 'AFTER_SEQUENCE_NUMBER', saved).catch((error: unknown) => {
          // The checkpoint is past the 24-hour retention: start from the oldest record kept.
          if ((error as Error).name !== 'TrimmedDataAccessException') throw error;
          return reader.iterator(this.#shardId, 'TRIM_HORIZON');
        })
      : await reader.iterator(this.#shardId, this.#options.startingPosition ?? 'LATEST');
    this.#schedulePoll(0);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#pollTimer);
    clearTimeout(this.#windowTimer);
  }

  /** Resolves when the mapping has read all the stream holds and every record of it is done (tests, and `run` before it reports). */
  async idle(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    // Caught up by a read begun after this call: one begun before may have missed a write
    // made since (a file's READY, written just before its run reports), and idle would
    // answer before that record reached the subscriber.
    const after = this.#readsBegun;
    while (
      !this.#caughtUp ||
      this.#caughtUpAtRead <= after ||
      this.#unfinished.length > 0 ||
      this.#running > 0
    ) {
      if (Date.now() > deadline) throw new Error(`stream mapping of ${this.#options.functionArn} still busy`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  #schedulePoll(delayMs: number): void {
    if (this.#closed) return;
    this.#pollTimer = setTimeout(() => void this.#poll(), delayMs);
  }

  async #poll(): Promise<void> {
    const { reader, batchSize = 100 } = this.#options;
    try {
      // Reads ahead at most a few batches per lane, as Lambda's pollers do.
      if (this.#iterator && this.#unfinished.length < 4 * batchSize * this.#lanes.length) {
        const read = (this.#readsBegun += 1);
        const { records, next } = await reader.read(this.#iterator).catch(async (error: unknown) => {
          if ((error as Error).name !== 'ExpiredIteratorException') throw error;
          const iterator = this.#lastRead
            ? await reader.iterator(this.#shardId, 'AFTER_SEQUENCE_NUMBER', this.#lastRead)
            : await reader.iterator(this.#shardId, 'TRIM_HORIZON');
          return reader.read(iterator);
        });
        this.#iterator = next;
        this.#caughtUp = records.length === 0;
        if (this.#caughtUp) this.#caughtUpAtRead = read;
        this.#accept(records);
      }
    } catch (error) {
      // A read the role may not make, or the emulator gone: polled again, as Lambda keeps trying.
      if (!this.#closed)
        this.#log(`stream mapping of ${this.#options.functionArn}: ${(error as Error).message}`);
    }
    this.#schedulePoll(this.#options.pollIntervalMs ?? 250);
  }

  #accept(records: readonly StreamRecord[]): void {
    const matching: StreamRecord[] = [];
    const filteredOut: StreamRecord[] = [];
    for (const record of records) {
      this.#lastRead = record.dynamodb.SequenceNumber;
      this.#unfinished.push(record.dynamodb.SequenceNumber);
      if (filtersMatch(this.#options.filters, record)) matching.push(record);
      else filteredOut.push(record);
    }
    if (filteredOut.length > 0) {
      this.figures.filteredOut += filteredOut.length;
      this.#options.onDelivery?.({ outcome: 'filtered-out', records: filteredOut });
      this.#finish(filteredOut);
    }
    for (const record of matching) {
      const lane = this.#laneOf(record);
      if (lane.pending.length === 0) lane.firstPendingAt = this.#now();
      lane.pending.push(record);
    }
    this.#pump();
  }

  /** Records of one partition key always go to the same lane, so they stay in order. */
  #laneOf(record: StreamRecord): Lane {
    if (this.#lanes.length === 1) return this.#lanes[0] as Lane;
    const keys = record.dynamodb.Keys;
    const hashKey = JSON.stringify(keys[Object.keys(keys).sort()[0] ?? ''] ?? null);
    const digest = createHash('md5').update(hashKey).digest().readUInt32BE(0);
    return this.#lanes[digest % this.#lanes.length] as Lane;
  }

  #pump(): void {
    if (this.#closed) return;
    const { batchSize = 100, batchingWindowSeconds = 0 } = this.#options;
    const windowMs = batchingWindowSeconds * 1000;
    let nextWindowEnd = Infinity;
    for (const lane of this.#lanes) {
      if (lane.busy || lane.pending.length === 0) continue;
      const windowEnd = lane.firstPendingAt + windowMs;
      if (lane.pending.length < batchSize && this.#now() < windowEnd) {
        nextWindowEnd = Math.min(nextWindowEnd, windowEnd);
        continue;
      }
      const records = lane.pending.splice(0, batchSize);
      lane.firstPendingAt = this.#now();
      lane.busy = true;
      this.#running += 1;
      this.figures.peakConcurrency = Math.max(this.figures.peakConcurrency, this.#running);
      void this.#handle({ records, attempts: 0 }).finally(() => {
        lane.busy = false;
        this.#running -= 1;
        this.#pump();
      });
    }
    if (nextWindowEnd !== Infinity) {
      clearTimeout(this.#windowTimer);
      this.#windowTimer = setTimeout(() => this.#pump(), Math.max(0, nextWindowEnd - this.#now()));
    }
  }

  /** One batch, through its retries and halves, until every record of it is done. */
  async #handle(first: Batch): Promise<void> {
    const queue: Batch[] = [first];
    let pauseMs = this.#options.retryPauseMs ?? 250;
    while (queue.length > 0 && !this.#closed) {
      const batch = queue[0] as Batch;
      const expired = this.#expired(batch.records);
      if (expired.length > 0) {
        await this.#giveUp(expired, 'RecordAgeExceeded', batch.attempts);
        batch.records = batch.records.slice(expired.length);
        if (batch.records.length === 0) {
          queue.shift();
          continue;
        }
      }
      const outcome = await this.#invoke(batch.records);
      if (outcome.kind === 'success') {
        queue.shift();
        pauseMs = this.#options.retryPauseMs ?? 250;
        continue;
      }
      if (outcome.kind === 'partial') {
        // Done up to the lowest reported failure; the rest is the batch retried.
        batch.records = batch.records.slice(outcome.firstFailed);
        batch.attempts += 1;
      } else if (outcome.kind === 'throttled') {
        // Lambda did not run the function: no attempt spent.
      } else if (this.#options.bisectOnError && batch.records.length > 1) {
        const half = Math.ceil(batch.records.length / 2);
        queue.splice(
          0,
          1,
          { records: batch.records.slice(0, half), attempts: batch.attempts },
          { records: batch.records.slice(half), attempts: batch.attempts },
        );
        continue;
      } else {
        batch.attempts += 1;
      }
      const maxRetries = this.#options.maxRetryAttempts ?? -1;
      if (outcome.kind !== 'throttled' && maxRetries >= 0 && batch.attempts > maxRetries) {
        await this.#giveUp(batch.records, 'RetryAttemptsExhausted', batch.attempts, outcome.error);
        queue.shift();
        continue;
      }
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      pauseMs = Math.min(pauseMs * 2, 30_000);
    }
  }

  #expired(records: readonly StreamRecord[]): StreamRecord[] {
    const maxAge = this.#options.maxRecordAgeSeconds ?? -1;
    if (maxAge < 0) return [];
    const oldest = this.#now() / 1000 - maxAge;
    const firstFresh = records.findIndex((record) => record.dynamodb.ApproximateCreationDateTime >= oldest);
    return records.slice(0, firstFresh === -1 ? records.length : firstFresh);
  }

  async #invoke(
    records: StreamRecord[],
  ): Promise<
    | { kind: 'success' }
    | { kind: 'partial'; firstFailed: number; error: string }
    | { kind: 'failed' | 'throttled'; error: string }
  > {
    const event = {
      Records: records.map((record) => ({ ...record, eventSourceARN: this.#options.streamArn })),
    } as unknown as DynamoDBStreamEvent;
    this.figures.invocations += 1;
    const invokedAt = this.#now();
    let response: unknown;
    try {
      response = await this.#options.invoke(event);
    } catch (error) {
      const name = (error as Error).name;
      const kind = PLATFORM_ERRORS.has(name) ? 'throttled' : 'failed';
      const reason = `${name}: ${(error as Error).message}`;
      if (kind === 'failed') {
        this.figures.failedInvocations += 1;
        this.#options.onDelivery?.({ outcome: 'failed', records, reason, invokedAt });
      }
      return { kind, error: reason };
    }
    const failures = this.#options.reportBatchItemFailures ? batchItemFailures(response) : [];
    if (failures === 'invalid') {
      this.figures.failedInvocations += 1;
      const reason = 'the batchItemFailures response names no record of the batch';
      this.#options.onDelivery?.({ outcome: 'failed', records, reason });
      return { kind: 'failed', error: reason };
    }
    const positions = failures.map((id) =>
      records.findIndex((record) => record.dynamodb.SequenceNumber === id),
    );
    if (positions.some((position) => position === -1)) {
      this.figures.failedInvocations += 1;
      const reason = 'a reported itemIdentifier is not a sequence number of the batch';
      this.#options.onDelivery?.({ outcome: 'failed', records, reason });
      return { kind: 'failed', error: reason };
    }
    const firstFailed = positions.length > 0 ? Math.min(...positions) : records.length;
    const delivered = records.slice(0, firstFailed);
    if (delivered.length > 0) {
      this.figures.delivered += delivered.length;
      this.#options.onDelivery?.({ outcome: 'delivered', records: delivered, invokedAt });
      this.#finish(delivered);
    }
    if (firstFailed === records.length) return { kind: 'success' };
    this.figures.failedInvocations += 1;
    const reason = `reported ${failures.length} failed record(s)`;
    this.#options.onDelivery?.({ outcome: 'failed', records: records.slice(firstFailed), reason });
    return { kind: 'partial', firstFailed, error: reason };
  }

  /** Sends the records' invocation record to the on-failure destination (retried until it is sent), then moves on. */
  async #giveUp(
    records: StreamRecord[],
    condition: OnFailureRecord['requestContext']['condition'],
    attempts: number,
    error?: string,
  ): Promise<void> {
    const invocationRecord = onFailureRecord({
      records,
      condition,
      attempts,
      functionError: error !== undefined,
      functionArn: this.#options.functionArn,
      streamArn: this.#options.streamArn,
      shardId: this.#shardId,
      now: this.#now(),
    });
    const send = this.#options.sendToOnFailure;
    let pauseMs = this.#options.retryPauseMs ?? 250;
    while (send && !this.#closed) {
      try {
        await send(invocationRecord);
        break;
      } catch (sendError) {
        // Not given up until the destination has the pointer: nothing leaves the stream unrecorded.
        this.#log(
          `stream mapping of ${this.#options.functionArn}: on-failure destination refused: ${(sendError as Error).message}`,
        );
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
        pauseMs = Math.min(pauseMs * 2, 30_000);
      }
    }
    if (this.#closed) return;
    this.figures.sentToOnFailure += records.length;
    this.#options.onDelivery?.({ outcome: 'sent-to-on-failure', records, reason: condition });
    this.#finish(records);
  }

  /** Marks records done and moves the checkpoint past every record done in order. */
  #finish(records: readonly StreamRecord[]): void {
    for (const record of records) this.#done.add(record.dynamodb.SequenceNumber);
    let checkpoint: string | undefined;
    for (
      let head = this.#unfinished[0];
      head !== undefined && this.#done.has(head);
      head = this.#unfinished[0]
    ) {
      this.#unfinished.shift();
      this.#done.delete(head);
      checkpoint = head;
    }
    if (checkpoint) this.#options.checkpoint?.save(checkpoint);
  }
}
