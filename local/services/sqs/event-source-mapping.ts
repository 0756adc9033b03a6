/**
 * An SQS event source mapping, as Lambda runs one: batches of up to `batchSize` to the
 * function, gathered for up to `MaximumBatchingWindowInSeconds` while fewer are waiting,
 * at most `maxConcurrency` invocations at once (the mapping's
 * `ScalingConfig.MaximumConcurrency`), and with `ReportBatchItemFailures` only the messages
 * the function names stay in the queue. A message that is not deleted (failed, a crashed
 * or throttled invocation) comes back when its visibility timeout ends, as SQS does; the
 * mapping never retries by itself.
 */
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { ReceivedMessage, SqsQueue } from './sqs-queue.ts';
import { LOCAL_REGION } from '../../cfn.ts';

export interface EventSourceMappingOptions {
  readonly queue: SqsQueue;
  readonly invoke: (event: SQSEvent) => Promise<unknown>;
  /** @default 10 */
  readonly batchSize?: number;
  /** At most this many batches in flight: `ScalingConfig.MaximumConcurrency`. @default 1000 (Lambda's own limit) */
  readonly maxConcurrency?: number;
  /**
   * How long a batch smaller than `batchSize` is gathered before the function gets it
   * (`MaximumBatchingWindowInSeconds`, in ms). @default 0: at once
   */
  readonly batchingWindowMs?: number;
  /** `FunctionResponseTypes: ["ReportBatchItemFailures"]`. @default false */
  readonly reportBatchItemFailures?: boolean;
}

export class SqsEventSourceMapping {
  readonly #options: Required<EventSourceMappingOptions>;
  readonly #stopListening: () => void;
  #batchesInFlight = 0;
  #peakBatchesInFlight = 0;
  #invocations = 0;
  #closed = false;
  /** When the batch being gathered goes to the function however small, and its timer. */
  #windowEndsAt: number | undefined;
  #windowTimer: NodeJS.Timeout | undefined;

  constructor(options: EventSourceMappingOptions) {
    this.#options = {
      batchSize: 10,
      maxConcurrency: 1000,
      reportBatchItemFailures: false,
      batchingWindowMs: 0,
      ...options,
    };
    this.#stopListening = options.queue.onChange(() => this.#poll());
    this.#poll();
  }

  /** Figures for benchmarks and tests. */
  get figures(): { invocations: number; peakConcurrency: number } {
    return { invocations: this.#invocations, peakConcurrency: this.#peakBatchesInFlight };
  }

  /** Batches being handled now. */
  get busy(): number {
    return this.#batchesInFlight;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#windowTimer);
    this.#stopListening();
  }

  #poll(): void {
    const { queue, batchSize, maxConcurrency } = this.#options;
    while (!this.#closed && this.#batchesInFlight < maxConcurrency && queue.visible > 0) {
      if (this.#gathering()) return;
      const batch = queue.receive(batchSize);
      if (batch.length === 0) return;
      this.#batchesInFlight += 1;
      this.#peakBatchesInFlight = Math.max(this.#peakBatchesInFlight, this.#batchesInFlight);
      void this.#deliver(batch).finally(() => {
        this.#batchesInFlight -= 1;
        this.#poll();
      });
    }
  }

  /**
   * Whether the batch is still being gathered: fewer than a batch wait and its window has not
   * ended. The window opens with the first message the mapping finds waiting, and a batch
   * taken closes it.
   */
  #gathering(): boolean {
    const { queue, batchSize, batchingWindowMs } = this.#options;
    const now = Date.now();
    if (batchingWindowMs > 0 && queue.visible < batchSize) {
      this.#windowEndsAt ??= now + batchingWindowMs;
      if (now < this.#windowEndsAt) {
        if (!this.#windowTimer) {
          this.#windowTimer = setTimeout(() => {
            this.#windowTimer = undefined;
            this.#poll();
          }, this.#windowEndsAt - now);
        }
        return true;
      }
    }
    this.#windowEndsAt = undefined;
    clearTimeout(this.#windowTimer);
    this.#windowTimer = undefined;
    return false;
  }

  async #deliver(batch: ReceivedMessage[]): Promise<void> {
    const { queue } = this.#options;
    const records = batch.map(({ message, receiptHandle }): SQSRecord => ({
      messageId: message.messageId,
      receiptHandle,
      body: message.body,
      attributes: {
        ApproximateReceiveCount: String(message.receiveCount),
        SentTimestamp: String(message.sentTimestamp),
        SenderId: 'AROAEXAMPLE:local',
        ApproximateFirstReceiveTimestamp: String(message.firstReceiveTimestamp ?? Date.now()),
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: queue.arn,
      awsRegion: LOCAL_REGION,
    }));
    this.#invocations += 1;
    let failed: Set<string>;
    try {
      const response = (await this.#options.invoke({ Records: records })) as SQSBatchResponse | undefined;
      failed = this.#options.reportBatchItemFailures
        ? new Set((response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier))
        : new Set();
    } catch {
      return; // the whole batch stays, back when its visibility ends
    }
    for (const { message, receiptHandle } of batch) {
      if (!failed.has(message.messageId)) queue.delete(receiptHandle);
    }
  }
}
