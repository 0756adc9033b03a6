/**
 * The ingest queue on the local runtime: S3 events in, batches of up to ten to the
 * starter (as an SQS event source mapping with ReportBatchItemFailures delivers them),
 * failed messages back after a visibility timeout, and to the dead-letter list after
 * `maxReceiveCount` receives, as the deployed queue's redrive policy does.
 */
import { randomUUID } from 'node:crypto';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

export interface QueuedMessage {
  readonly messageId: string;
  readonly body: string;
  receiveCount: number;
}

export interface LocalQueueOptions {
  /** The starter: answers which messages failed. */
  readonly consume: (event: SQSEvent) => Promise<unknown>;
  readonly batchSize?: number;
  readonly maxConcurrency?: number;
  readonly maxReceiveCount?: number;
  readonly visibilityTimeoutMs?: number;
  readonly queueArn: string;
}

export class LocalQueue {
  readonly deadLetters: QueuedMessage[] = [];
  readonly #ready: QueuedMessage[] = [];
  readonly #options: Required<LocalQueueOptions>;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #hiddenDeadLetters = new Map<string, NodeJS.Timeout>();
  #inFlight = 0;
  #closed = false;

  constructor(options: LocalQueueOptions) {
    this.#options = {
      batchSize: 10,
      maxConcurrency: 5,
      maxReceiveCount: 5,
      visibilityTimeoutMs: 1000,
      ...options,
    };
  }

  /**
   * Dead letters for an operator (the local SQS API's ReceiveMessage on the DLQ): each is
   * hidden until deleted, or back after `visibilityMs`, as SQS does.
   */
  receiveDeadLetters(max: number, visibilityMs: number): { receiptHandle: string; message: QueuedMessage }[] {
    const taken = this.deadLetters.splice(0, max);
    return taken.map((message) => {
      const receiptHandle = randomUUID();
      const timer = setTimeout(() => {
        this.#hiddenDeadLetters.delete(receiptHandle);
        this.deadLetters.push(message);
      }, visibilityMs);
      timer.unref();
      this.#hiddenDeadLetters.set(receiptHandle, timer);
      return { receiptHandle, message };
    });
  }

  deleteDeadLetter(receiptHandle: string): boolean {
    const timer = this.#hiddenDeadLetters.get(receiptHandle);
    if (!timer) return false;
    clearTimeout(timer);
    return this.#hiddenDeadLetters.delete(receiptHandle);
  }

  send(body: string): void {
    this.#ready.push({ messageId: randomUUID(), body, receiveCount: 0 });
    this.#pump();
  }

  /** Messages waiting, in flight, or waiting out a visibility timeout. */
  get depth(): number {
    return this.#ready.length + this.#inFlight + this.#timers.size;
  }

  async idle(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.depth > 0) {
      if (Date.now() > deadline) throw new Error(`queue not drained after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const timer of this.#hiddenDeadLetters.values()) clearTimeout(timer);
    this.#hiddenDeadLetters.clear();
  }

  #pump(): void {
    while (!this.#closed && this.#ready.length > 0 && this.#inFlight < this.#options.maxConcurrency) {
      const batch = this.#ready.splice(0, this.#options.batchSize);
      this.#inFlight += 1;
      void this.#deliver(batch).finally(() => {
        this.#inFlight -= 1;
        this.#pump();
      });
    }
  }

  async #deliver(batch: QueuedMessage[]): Promise<void> {
    for (const message of batch) message.receiveCount += 1;
    const records = batch.map((message): SQSRecord => ({
      messageId: message.messageId,
      receiptHandle: message.messageId,
      body: message.body,
      attributes: {
        ApproximateReceiveCount: String(message.receiveCount),
        SentTimestamp: String(Date.now()),
        SenderId: 'events.amazonaws.com',
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: this.#options.queueArn,
      awsRegion: 'us-east-1',
    }));
    let failed: Set<string>;
    try {
      const response = (await this.#options.consume({ Records: records })) as SQSBatchResponse | undefined;
      failed = new Set((response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
    } catch {
      failed = new Set(batch.map((message) => message.messageId)); // the whole batch failed
    }
    for (const message of batch) {
      if (!failed.has(message.messageId)) continue;
      if (message.receiveCount >= this.#options.maxReceiveCount) {
        this.deadLetters.push(message);
        continue;
      }
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.#ready.push(message);
        this.#pump();
      }, this.#options.visibilityTimeoutMs);
      this.#timers.add(timer);
    }
  }
}
