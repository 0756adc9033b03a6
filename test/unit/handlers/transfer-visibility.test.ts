import { describe, expect, it } from 'vitest';
import { hiddenForTheInvocation, VISIBILITY_MARGIN_MS } from '../../../lambdas/transfer/visibility.ts';

/** The deployed transfer queue: the worker's 15-minute timeout plus a minute. */
const VISIBILITY_SECONDS = 960;
const TIMEOUT_MS = 900_000;
const receivedAt = Date.parse('2026-12-06T12:00:00Z');
const first = { ApproximateReceiveCount: '1', ApproximateFirstReceiveTimestamp: String(receivedAt) };

describe('whether a transfer message stays hidden for its whole invocation', () => {
  it('does for a first delivery invoked at once: no ChangeMessageVisibility request is needed', () => {
    expect(
      hiddenForTheInvocation(first, VISIBILITY_SECONDS, { now: receivedAt + 200, remainingMs: TIMEOUT_MS }),
    ).toBe(true);
  });

  it('does not once the invocation started later than the queue’s margin (a throttled start)', () => {
    const lateBy = VISIBILITY_SECONDS * 1000 - TIMEOUT_MS - VISIBILITY_MARGIN_MS + 1;
    expect(
      hiddenForTheInvocation(first, VISIBILITY_SECONDS, {
        now: receivedAt + lateBy,
        remainingMs: TIMEOUT_MS,
      }),
    ).toBe(false);
    expect(
      hiddenForTheInvocation(first, VISIBILITY_SECONDS, {
        now: receivedAt + lateBy - 1,
        remainingMs: TIMEOUT_MS,
      }),
    ).toBe(true);
  });

  it('does not know for a message received before, whose latest receive SQS does not date', () => {
    expect(
      hiddenForTheInvocation({ ...first, ApproximateReceiveCount: '2' }, VISIBILITY_SECONDS, {
        now: receivedAt + 200,
        remainingMs: TIMEOUT_MS,
      }),
    ).toBe(false);
    expect(
      hiddenForTheInvocation({ ...first, ApproximateFirstReceiveTimestamp: '' }, VISIBILITY_SECONDS, {
        now: receivedAt + 200,
        remainingMs: TIMEOUT_MS,
      }),
    ).toBe(false);
  });
});
