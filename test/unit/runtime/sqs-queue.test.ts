import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SqsQueue } from '#local/services/sqs/sqs-queue';
import { SqsEventSourceMapping } from '#local/services/sqs/event-source-mapping';
import { queuesFromTemplate } from '#local/services/sqs/queues';
import { templateArns } from '#local/iam/arns';
import { synthesizeStack } from '#local/synth';

afterEach(() => {
  vi.useRealTimers();
});

function queues(maxReceiveCount = 3) {
  const deadLetters = new SqsQueue({ name: 'dlq', arn: 'arn:aws:sqs:us-east-1:000000000000:dlq' });
  const queue = new SqsQueue({
    name: 'work',
    arn: 'arn:aws:sqs:us-east-1:000000000000:work',
    visibilityTimeoutSeconds: 30,
    redrive: { deadLetterQueue: deadLetters, maxReceiveCount },
  });
  return { queue, deadLetters };
}

describe('the local SQS queue', () => {
  it('hides a received message for the visibility timeout, then shows it again with a higher receive count', () => {
    vi.useFakeTimers();
    const { queue } = queues();
    queue.send('a');
    const [first] = queue.receive(10);
    expect(queue.receive(10)).toEqual([]);
    vi.advanceTimersByTime(29_999);
    expect(queue.visible).toBe(0);
    vi.advanceTimersByTime(1);
    const [again] = queue.receive(10);
    expect(again?.message.receiveCount).toBe(2);
    expect(again?.receiptHandle).not.toBe(first?.receiptHandle);
    // The first receipt handle is stale: deleting with it deletes nothing.
    expect(queue.delete(first?.receiptHandle ?? '')).toBe(false);
    expect(queue.delete(again?.receiptHandle ?? '')).toBe(true);
    expect(queue.depth).toBe(0);
  });

  it('lets the receiver set how long its message stays hidden (a retry delay)', () => {
    vi.useFakeTimers();
    const { queue } = queues();
    queue.send('a');
    const [received] = queue.receive(1);
    queue.changeVisibility(received?.receiptHandle ?? '', 5);
    vi.advanceTimersByTime(5_000);
    expect(queue.visible).toBe(1);
    expect(() => queue.changeVisibility('gone', 5)).toThrow(/not in flight/);
    expect(() => queue.changeVisibility(received?.receiptHandle ?? '', 43_201)).toThrow(/0 to 43200/);
  });

  it('at least once: a copy of a received message comes back while the first is still held, and each must be deleted', () => {
    vi.useFakeTimers();
    const queue = new SqsQueue({
      name: 'work',
      arn: 'arn:aws:sqs:us-east-1:000000000000:work',
      visibilityTimeoutSeconds: 30,
      duplicateRate: 1,
      duplicateWithinMs: 100,
      random: () => 0.5,
    });
    queue.send('a');
    const [first] = queue.receive(1);
    expect(queue.receive(1)).toEqual([]);
    vi.advanceTimersByTime(50);
    const [copy] = queue.receive(1);
    expect(copy?.message.messageId).toBe(first?.message.messageId);
    expect(copy?.message.body).toBe('a');
    expect(copy?.receiptHandle).not.toBe(first?.receiptHandle);
    expect(queue.duplicated).toBe(2);
    expect(queue.delete(first?.receiptHandle ?? '')).toBe(true);
    expect(queue.delete(copy?.receiptHandle ?? '')).toBe(true);
  });

  it('speed knob: shortens a retry delay, never a consumer holding its message for the queue’s timeout', () => {
    vi.useFakeTimers();
    const queue = new SqsQueue({
      name: 'work',
      arn: 'arn:aws:sqs:us-east-1:000000000000:work',
      visibilityTimeoutSeconds: 30,
      maxVisibilityChangeMs: 20,
    });
    queue.send('retry');
    queue.send('hold');
    const [retried, held] = queue.receive(2);
    queue.changeVisibility(retried?.receiptHandle ?? '', 15);
    queue.changeVisibility(held?.receiptHandle ?? '', 30);
    vi.advanceTimersByTime(20);
    expect(queue.peek().map((message) => message.body)).toEqual(['retry']);
    vi.advanceTimersByTime(29_980);
    expect(queue.peek().map((message) => message.body)).toEqual(['retry', 'hold']);
  });

  it('moves a message received maxReceiveCount times to the dead-letter queue on the next receive', () => {
    vi.useFakeTimers();
    const { queue, deadLetters } = queues(2);
    queue.send('poison');
    for (let receive = 0; receive < 2; receive += 1) {
      expect(queue.receive(1)).toHaveLength(1);
      vi.advanceTimersByTime(30_000);
    }
    expect(queue.receive(1)).toEqual([]);
    expect(deadLetters.peek().map((message) => [message.body, message.receiveCount])).toEqual([
      ['poison', 2],
    ]);
  });

  it('holds a delayed message back for its delay', () => {
    vi.useFakeTimers();
    const { queue } = queues();
    queue.send('later', 10);
    expect(queue.visible).toBe(0);
    expect(queue.depth).toBe(1);
    vi.advanceTimersByTime(10_000);
    expect(queue.visible).toBe(1);
  });
});

describe('the local SQS event source mapping', () => {
  it('never runs more batches at once than its maximum concurrency, and deletes what succeeded', async () => {
    const { queue } = queues();
    let running = 0;
    let peak = 0;
    const mapping = new SqsEventSourceMapping({
      queue,
      batchSize: 1,
      maxConcurrency: 3,
      reportBatchItemFailures: true,
      invoke: async () => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running -= 1;
        return { batchItemFailures: [] };
      },
    });
    for (let index = 0; index < 20; index += 1) queue.send(String(index));
    await vi.waitFor(() => expect(queue.depth).toBe(0));
    mapping.close();
    expect(peak).toBe(3);
    expect(mapping.figures).toEqual({ invocations: 20, peakConcurrency: 3 });
  });

  it('leaves the failed messages of a batch, and a whole failed invocation, for their visibility to end', async () => {
    const { queue } = queues();
    const seen: string[][] = [];
    const mapping = new SqsEventSourceMapping({
      queue,
      batchSize: 10,
      reportBatchItemFailures: true,
      invoke: (event: SQSEvent): Promise<SQSBatchResponse> => {
        seen.push(event.Records.map((record) => record.body));
        const failed = event.Records.find((record) => record.body === 'bad');
        return Promise.resolve({ batchItemFailures: failed ? [{ itemIdentifier: failed.messageId }] : [] });
      },
    });
    queue.send('good');
    queue.send('bad');
    await vi.waitFor(() => expect(queue.inFlight).toBe(1));
    expect(queue.visible).toBe(0);
    expect(seen.flat()).toContain('bad');
    mapping.close();
  });

  it('gathers a batch for its window: a full one goes at once, a smaller one when the window ends', async () => {
    vi.useFakeTimers();
    const { queue } = queues();
    const batches: number[] = [];
    const mapping = new SqsEventSourceMapping({
      queue,
      batchSize: 10,
      batchingWindowMs: 1000,
      invoke: (event: SQSEvent) => Promise.resolve(batches.push(event.Records.length)),
    });
    for (let index = 0; index < 3; index += 1) queue.send(`first ${index}`);
    await vi.advanceTimersByTimeAsync(999);
    expect(batches).toEqual([]);
    // Twelve more: ten of the fifteen make a full batch, sent without waiting for the window.
    for (let index = 0; index < 12; index += 1) queue.send(`more ${index}`);
    await vi.advanceTimersByTimeAsync(0);
    expect(batches).toEqual([10]);
    // The five left open a window of their own.
    await vi.advanceTimersByTimeAsync(999);
    expect(batches).toEqual([10]);
    await vi.advanceTimersByTimeAsync(1);
    expect(batches).toEqual([10, 5]);
    expect(queue.depth).toBe(0);
    mapping.close();
  });

  it('take each mapping’s batch size, window and concurrency from the template, as deployed', () => {
    const { template } = synthesizeStack();
    const queues = queuesFromTemplate(template, templateArns(template));
    // The S3 notifications' queue feeds the starter ten at a time, gathered for a second.
    expect(queues.mappings).toContainEqual(
      expect.objectContaining({ batchSize: 10, batchingWindowMs: 1000, maxConcurrency: 5 }),
    );
    expect(queues.mappings).toContainEqual(expect.objectContaining({ batchSize: 1, batchingWindowMs: 0 }));
    queues.close();
    // The tests' speed knob shortens a window, and gives none where none was deployed.
    const quick = queuesFromTemplate(template, templateArns(template), { maxBatchingWindowMs: 100 });
    expect(quick.mappings.map((mapping) => mapping.batchingWindowMs).sort()).toEqual([0, 100]);
    quick.close();
  });
});
