import type { SQSRecordAttributes } from 'aws-lambda';

/** Kept between the message's reappearance and the end of the invocation, for clock skew. */
export const VISIBILITY_MARGIN_MS = 5000;

/**
 * Whether the message stays hidden for as long as this invocation can still run, as its
 * receive made it (`visibilitySeconds` from that receive). Known only of a first receive,
 * whose time SQS gives (`ApproximateFirstReceiveTimestamp`); of a later one it is not, and
 * the caller hides the message again. The common case, a first delivery invoked at once,
 * then spends no `ChangeMessageVisibility` request.
 */
export function hiddenForTheInvocation(
  attributes: Pick<SQSRecordAttributes, 'ApproximateReceiveCount' | 'ApproximateFirstReceiveTimestamp'>,
  visibilitySeconds: number,
  at: { readonly now: number; readonly remainingMs: number },
): boolean {
  if (attributes.ApproximateReceiveCount !== '1') return false;
  const receivedAt = Number(attributes.ApproximateFirstReceiveTimestamp);
  if (!Number.isFinite(receivedAt)) return false;
  const hiddenUntil = receivedAt + visibilitySeconds * 1000;
  return hiddenUntil >= at.now + at.remainingMs + VISIBILITY_MARGIN_MS;
}
