/**
 * One SQS standard queue, as SQS keeps it: messages are visible, delayed, or in flight
 * (received and hidden for the visibility timeout, which the receiver may change with its
 * receipt handle). A message not deleted before its visibility ends is visible again and
 * received again; past the redrive policy's `maxReceiveCount` it moves to the dead-letter
 * queue instead. Written here because the local runtime needs the queue in-process (its
 * event source mappings poll it, tests look inside); the SQS emulators on npm are servers.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';

export interface SqsMessage {
  readonly messageId: string;
  readonly body: string;
  readonly sentTimestamp: number;
  receiveCount: number;
  firstReceiveTimestamp?: number;
}

export interface ReceivedMessage {
  readonly message: SqsMessage;
  readonly receiptHandle: string;
}

export interface SqsQueueOptions {
  readonly name: string;
  readonly arn: string;
  /** @default 30 */
  readonly visibilityTimeoutSeconds?: number;
  /** The redrive policy: after this many receives a message moves to `deadLetterQueue`. */
  readonly redrive?: { readonly maxReceiveCount: number; readonly deadLetterQueue: SqsQueue };
  /**
   * The local runtime's speed knob (with `retryPauseMs`): a visibility change shorter than
   * the queue's own timeout (a consumer's retry delay) lasts at most this long. A change to
   * at least the queue's timeout (a consumer holding its message while it works) is kept.
   */
  readonly maxVisibilityChangeMs?: number;
  /**
   * At-least-once delivery, as SQS standard queues allow it: this share of receives also
   * puts a copy of the message back, visible within `duplicateWithinMs`, while the first
   * consumer still holds it. Each copy is received, and must be deleted, on its own.
   * @default 0
   */
  readonly duplicateRate?: number;
  /** @default 500 */
  readonly duplicateWithinMs?: number;
  /** The dice of `duplicateRate` (0 ≤ x < 1). @default Math.random */
  readonly random?: () => number;
}

/** SQS's bounds: a visibility timeout is 0 to 12 hours, a delay 0 to 15 minutes. */
const MAX_VISIBILITY_SECONDS = 43_200;
const MAX_DELAY_SECONDS = 900;

export class SqsQueueError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

interface InFlight {
  readonly message: SqsMessage;
  timer: NodeJS.Timeout;
}

export class SqsQueue {
  readonly name: string;
  readonly arn: string;
  readonly visibilityTimeoutSeconds: number;
  readonly #redrive: SqsQueueOptions['redrive'];
  readonly #maxVisibilityChangeMs: number;
  readonly #duplicateRate: number;
  readonly #duplicateWithinMs: number;
  readonly #random: () => number;
  #duplicated = 0;
  readonly #visible: SqsMessage[] = [];
  readonly #delayed = new Set<NodeJS.Timeout>();
  readonly #inFlight = new Map<string, InFlight>();
  readonly #events = new EventEmitter();
  #closed = false;

  constructor(options: SqsQueueOptions) {
    this.name = options.name;
    this.arn = options.arn;
    this.visibilityTimeoutSeconds = options.visibilityTimeoutSeconds ?? 30;
    this.#redrive = options.redrive;
    this.#maxVisibilityChangeMs = options.maxVisibilityChangeMs ?? Number.POSITIVE_INFINITY;
    this.#duplicateRate = options.duplicateRate ?? 0;
    this.#duplicateWithinMs = options.duplicateWithinMs ?? 500;
    this.#random = options.random ?? Math.random;
    this.#events.setMaxListeners(0);
  }

  send(body: string, delaySeconds = 0): SqsMessage {
    if (delaySeconds < 0 || delaySeconds > MAX_DELAY_SECONDS) {
      throw new SqsQueueError('InvalidParameterValue', `DelaySeconds must be 0 to ${MAX_DELAY_SECONDS}`);
    }
    const message: SqsMessage = { messageId: randomUUID(), body, sentTimestamp: Date.now(), receiveCount: 0 };
    if (delaySeconds === 0) this.#makeVisible(message);
    else {
      const timer = setTimeout(() => {
        this.#delayed.delete(timer);
        this.#makeVisible(message);
      }, delaySeconds * 1000);
      this.#delayed.add(timer);
    }
    return message;
  }

  /**
   * Takes up to `max` visible messages and hides them for `visibilitySeconds` (the queue's
   * own timeout by default). A message whose receives would pass the redrive policy's
   * count moves to the dead-letter queue instead.
   */
  receive(max: number, visibilitySeconds = this.visibilityTimeoutSeconds): ReceivedMessage[] {
    const received: ReceivedMessage[] = [];
    while (received.length < max && this.#visible.length > 0) {
      const message = this.#visible.shift() as SqsMessage;
      if (this.#redrive && message.receiveCount >= this.#redrive.maxReceiveCount) {
        this.#redrive.deadLetterQueue.#makeVisible(message);
        continue;
      }
      message.receiveCount += 1;
      message.firstReceiveTimestamp ??= Date.now();
      const receiptHandle = randomUUID();
      this.#inFlight.set(receiptHandle, { message, timer: this.#hide(receiptHandle, visibilitySeconds) });
      received.push({ message, receiptHandle });
      if (this.#duplicateRate > 0 && this.#random() < this.#duplicateRate) this.#duplicate(message);
    }
    return received;
  }

  /** Copies delivered beside their original so far (the at-least-once mode). */
  get duplicated(): number {
    return this.#duplicated;
  }

  /** Deletes a received message; `false` when the handle is not (or no longer) its latest. */
  delete(receiptHandle: string): boolean {
    const inFlight = this.#inFlight.get(receiptHandle);
    if (!inFlight) return false;
    clearTimeout(inFlight.timer);
    this.#inFlight.delete(receiptHandle);
    this.#changed();
    return true;
  }

  /** Restarts an in-flight message's visibility timeout at `seconds` from now (0: visible at once). */
  changeVisibility(receiptHandle: string, seconds: number): void {
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_VISIBILITY_SECONDS) {
      throw new SqsQueueError(
        'InvalidParameterValue',
        `VisibilityTimeout must be a whole number from 0 to ${MAX_VISIBILITY_SECONDS}`,
      );
    }
    const inFlight = this.#inFlight.get(receiptHandle);
    if (!inFlight) throw new SqsQueueError('MessageNotInflight', 'The message referred to is not in flight.');
    clearTimeout(inFlight.timer);
    const hold = seconds >= this.visibilityTimeoutSeconds;
    inFlight.timer = this.#hide(
      receiptHandle,
      hold ? seconds : Math.min(seconds, this.#maxVisibilityChangeMs / 1000),
    );
  }

  /** Where the redrive policy moves messages received too often. */
  get deadLetterQueue(): SqsQueue | undefined {
    return this.#redrive?.deadLetterQueue;
  }

  /** Messages that can be received now. */
  get visible(): number {
    return this.#visible.length;
  }

  /** Messages received and not yet deleted (SQS's ApproximateNumberOfMessagesNotVisible). */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Every message the queue holds: visible, delayed, or in flight. */
  get depth(): number {
    return this.#visible.length + this.#delayed.size + this.#inFlight.size;
  }

  /** The visible messages, oldest first, without receiving them (tests, reports). */
  peek(): readonly SqsMessage[] {
    return [...this.#visible];
  }

  /** Calls `listener` whenever a message becomes visible or leaves the queue. */
  onChange(listener: () => void): () => void {
    this.#events.on('change', listener);
    return () => this.#events.off('change', listener);
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#delayed) clearTimeout(timer);
    for (const { timer } of this.#inFlight.values()) clearTimeout(timer);
    this.#delayed.clear();
    this.#events.removeAllListeners();
  }

  #hide(receiptHandle: string, seconds: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      const inFlight = this.#inFlight.get(receiptHandle);
      if (!inFlight) return;
      this.#inFlight.delete(receiptHandle);
      this.#makeVisible(inFlight.message);
    }, seconds * 1000);
    timer.unref();
    return timer;
  }

  /** A second copy of a received message: same id and body, its own receives, visible soon. */
  #duplicate(message: SqsMessage): void {
    this.#duplicated += 1;
    const copy: SqsMessage = { ...message, receiveCount: message.receiveCount - 1 };
    const timer = setTimeout(
      () => {
        this.#delayed.delete(timer);
        this.#makeVisible(copy);
      },
      Math.floor(this.#random() * this.#duplicateWithinMs),
    );
    this.#delayed.add(timer);
  }

  #makeVisible(message: SqsMessage): void {
    if (this.#closed) return;
    this.#visible.push(message);
    this.#changed();
  }

  #changed(): void {
    this.#events.emit('change');
  }
}
