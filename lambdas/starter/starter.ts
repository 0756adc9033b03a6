import { createHash } from 'node:crypto';
import { ExecutionAlreadyExists, StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import * as z from 'zod/mini';
import { nonEmptyString } from '#shared/config';
import { eventMatchesDropFilter, type DropFilter } from '#shared/drop-filter';
import { eventKeyCandidates } from '#shared/s3-event-key';

/** The EventBridge "Object Created" event from S3, as the SQS message body carries it. Its key may be URL-encoded (`s3-event-key.ts`): Prepare resolves it. */
export const objectCreatedEventSchema = z.object({
  'detail-type': z.literal('Object Created'),
  source: z.literal('aws.s3'),
  time: z.string(),
  detail: z.object({
    bucket: z.object({ name: nonEmptyString() }),
    object: z.object({
      key: nonEmptyString(),
      size: z.optional(z.int().check(z.nonnegative())),
      etag: z.optional(z.string()),
      'version-id': z.optional(z.string()),
      sequencer: nonEmptyString(),
    }),
  }),
});
export type ObjectCreatedEvent = z.infer<typeof objectCreatedEventSchema>;

/** The workflow's input: where the object is, as the event saw it. */
export interface WorkflowInput {
  readonly source: {
    readonly bucket: string;
    readonly key: string;
    readonly versionId: string | null;
    readonly etag: string | null;
    readonly size: number | null;
    readonly sequencer: string;
    readonly eventTime: string;
  };
}

export function toWorkflowInput(event: ObjectCreatedEvent): WorkflowInput {
  const { bucket, object } = event.detail;
  return {
    source: {
      bucket: bucket.name,
      key: object.key,
      versionId: object['version-id'] ?? null,
      etag: object.etag ?? null,
      size: object.size ?? null,
      sequencer: object.sequencer,
      eventTime: event.time,
    },
  };
}

/**
 * A Step Functions execution name (≤ 80 of `[A-Za-z0-9_-]`) derived from bucket, key,
 * version and sequencer: a redelivered S3 event maps to the same name, and Step
 * Functions refuses a second execution of it, so the redelivery is a no-op.
 */
export function executionName(source: WorkflowInput['source']): string {
  const hash = createHash('sha256')
    .update([source.bucket, source.key, source.versionId ?? '', source.sequencer].join('\u0000'))
    .digest('hex')
    .slice(0, 40);
  // Readable from the key as people name it (an event's key may be URL-encoded).
  const readable = readableExecutionName(eventKeyCandidates(source.key)[0] ?? source.key);
  return readable ? `${readable}-${hash}` : hash;
}

/** The readable start of a key's execution names: its file name in the characters a name allows. */
export function readableExecutionName(key: string): string {
  return (key.split('/').pop() ?? '').replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 38);
}

export interface StarterDeps {
  readonly sfn: SFNClient;
  readonly stateMachineArn: string;
  readonly filter: DropFilter;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * How much earlier than our call an execution's start may be and still be ours: clock
 * skew between this function and Step Functions, which both keep NTP time.
 */
export const START_CLOCK_TOLERANCE_MS = 1000;

export type StartOutcome = 'started' | 'duplicate' | 'filtered';

/**
 * Starts the ingest workflow for one S3 event; `duplicate` when its execution already
 * exists. Step Functions answers a second StartExecution of a running execution with the
 * same name and input as a success (it is idempotent), with the first start's date: a start
 * dated before this call is a redelivered event, not a new ingest. Once that execution has
 * ended, or with other input, it answers ExecutionAlreadyExists.
 */
export async function startIngest(deps: StarterDeps, event: ObjectCreatedEvent): Promise<StartOutcome> {
  const input = toWorkflowInput(event);
  if (!eventMatchesDropFilter(input.source.key, deps.filter)) return 'filtered';
  const calledAt = (deps.now ?? Date.now)();
  try {
    const { startDate } = await deps.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: deps.stateMachineArn,
        name: executionName(input.source),
        input: JSON.stringify(input),
      }),
    );
    const startedBefore = startDate && startDate.getTime() < calledAt - START_CLOCK_TOLERANCE_MS;
    return startedBefore ? 'duplicate' : 'started';
  } catch (error) {
    if (error instanceof ExecutionAlreadyExists) return 'duplicate';
    throw error;
  }
}
