/**
 * The ops commands as functions of a target: `status`, `show`, `retry`, `replay-dlq`.
 * They read and act through the same table, workflow and queues the pipeline uses, so
 * they work the same on a deployed stack and on the local runtime.
 */
import { createHash } from 'node:crypto';
import { ExecutionAlreadyExists, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import {
  INGEST_STATUSES,
  RETRYABLE_STATUSES,
  type IngestRecord,
  type IngestStatus,
} from '../lambdas/shared/ingest/record.ts';
import { findSourceOfFile, getRecord, scanRecords } from '../lambdas/shared/ingest/store.ts';
import { requestRetry } from '../lambdas/shared/ingest/claims.ts';
import { countInStatus, recordsInStatus } from '../lambdas/shared/ingest/status-index.ts';
import type { WorkflowInput } from '../lambdas/starter/starter.ts';
import { OpsError, type OpsTarget } from './target.ts';
import type { SubscriberDelivery } from './deliveries-log.ts';

export class UnknownIngestError extends OpsError {
  override readonly name = 'UnknownIngestError';
}
export class NotRetryableError extends OpsError {
  override readonly name = 'NotRetryableError';
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `90s`, `15m`, `2h`, `7d` in milliseconds, or undefined when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)([smhd])$/.exec(text.trim());
  if (!match?.[1] || !match[2]) return undefined;
  return Number(match[1]) * (DURATION_UNITS[match[2]] ?? 0) * 1000;
}

/** What operators see of a record: internal fields (the task token, a pending retry) left out. */
export function publicRecord(record: IngestRecord): Omit<IngestRecord, 'taskToken' | 'retryExecutionArn'> {
  const { taskToken: _taskToken, retryExecutionArn: _retry, ...rest } = record;
  return rest;
}

export interface StatusQuery {
  readonly status?: IngestStatus;
  /** Only records updated in the last this many ms. */
  readonly sinceMs?: number;
  readonly limit?: number;
  readonly now?: Date;
}

export interface StatusPage {
  /** At most `limit` records, newest change first. */
  readonly records: IngestRecord[];
  /** How many more match than were returned (0 when the page holds them all). */
  readonly more: number;
}

/** Records by status, newest change first, from the `byStatus` index (no table scan), and how many more match. */
export async function status(target: OpsTarget, query: StatusQuery = {}): Promise<StatusPage> {
  const statuses = query.status ? [query.status] : INGEST_STATUSES;
  const since =
    query.sinceMs === undefined
      ? undefined
      : new Date((query.now ?? new Date()).getTime() - query.sinceMs).toISOString();
  const limit = query.limit ?? 100;
  const store = { client: target.documents, tableName: target.tableName };
  const window = since ? { since } : {};
  const pages = await Promise.all(
    statuses.map((value) => recordsInStatus(store, value, { ...window, limit })),
  );
  const records = pages
    .flat()
    .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt))
    .slice(0, limit);
  const counts = await Promise.all(statuses.map((value) => countInStatus(store, value, window)));
  const total = counts.reduce((sum, value) => sum + value, 0);
  return { records, more: Math.max(0, total - records.length) };
}

/**
 * The record a reference names: a VideoGen file id (`vg_file_…`, a point read), an
 * `s3://bucket/key`, or a key in the drop bucket (a filtered scan: keys are not indexed).
 * The newest version's record when a key was dropped more than once.
 */
export async function findRecord(target: OpsTarget, reference: string): Promise<IngestRecord> {
  const store = { client: target.documents, tableName: target.tableName };
  if (/^vg_file_/.test(reference)) {
    const pk = await findSourceOfFile(store, reference);
    const record = pk ? await getRecord(store, pk) : undefined;
    if (!record)
      throw new UnknownIngestError(`no ingest of VideoGen file ${reference} in ${target.description}`);
    return record;
  }
  const s3Url = /^s3:\/\/([^/]+)\/(.+)$/.exec(reference);
  const bucket = s3Url?.[1] ?? target.bucket;
  const key = s3Url?.[2] ?? reference;
  const found = await scanRecords(store, { bucket, key });
  const newest = found.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
  if (!newest) {
    throw new UnknownIngestError(
      `no ingest of s3://${bucket}/${key} in ${target.description}: check the key ("videogen-ingest status" lists them)`,
    );
  }
  return newest;
}

export interface Shown {
  readonly record: ReturnType<typeof publicRecord>;
  /** The lifecycle as it happened: each event type when first seen, oldest first. */
  readonly history: readonly { readonly at: string; readonly event: string }[];
  /** What each stream subscriber got of the file's records, when the target keeps it (a local runtime). */
  readonly deliveries?: readonly SubscriberDelivery[];
}

export async function show(target: OpsTarget, reference: string): Promise<Shown> {
  const record = await findRecord(target, reference);
  const history = [
    { at: record.createdAt, event: 'ingest.received' },
    ...Object.entries(record.events).map(([event, at]) => ({ at, event })),
    ...(record.readyAt ? [{ at: record.readyAt, event: 'ingest.ready' }] : []),
    ...(record.error
      ? [{ at: record.updatedAt, event: `ingest.${record.status.toLowerCase()}: ${record.error.code}` }]
      : []),
  ].sort((a, b) => a.at.localeCompare(b.at));
  const deliveries = target.deliveriesOf?.(record.key);
  return { record: publicRecord(record), history, ...(deliveries ? { deliveries } : {}) };
}

/** The execution that restarts or resumes `record`'s workflow: named by its source and attempt, so a second call is a no-op. */
export function workflowExecutionOf(
  target: OpsTarget,
  record: IngestRecord,
  purpose: 'retry' | 'resume',
  attempt: number,
): { name: string; executionArn: string } {
  const name = `${purpose}-${createHash('sha256').update(record.pk).digest('hex').slice(0, 48)}-${attempt}`;
  return { name, executionArn: `${target.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}` };
}

/** Starts execution `name` of the workflow on `record`'s source as recorded (started already: fine). */
export async function startWorkflowOf(
  target: OpsTarget,
  record: IngestRecord,
  name: string,
  sequencer: string,
  at: Date,
): Promise<void> {
  const input: WorkflowInput = {
    source: {
      bucket: record.bucket,
      key: record.key,
      versionId: record.versionId,
      etag: record.etag,
      size: record.size,
      sequencer,
      eventTime: at.toISOString(),
    },
  };
  try {
    await target.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: target.stateMachineArn,
        name,
        input: JSON.stringify(input),
      }),
    );
  } catch (error) {
    if (!(error instanceof ExecutionAlreadyExists)) throw error;
  }
}

export interface Retried {
  readonly record: IngestRecord;
  readonly executionArn: string;
}

/**
 * Restarts the workflow of a FAILED or TIMED_OUT ingest: marks the record with the new
 * execution (conditionally: a concurrent retry loses), then starts it with the source as
 * recorded. Its Prepare replaces the record; the abandoned VideoGen files stay listed.
 */
export async function retry(target: OpsTarget, reference: string, now = new Date()): Promise<Retried> {
  return retryRecord(target, await findRecord(target, reference), now);
}

/** What a bulk retry did (or, in a dry run, would do) with each record in the status. */
export interface BulkRetried {
  readonly source: string;
  readonly previousStatus: IngestStatus;
  readonly error: string | null;
  /** The new execution; null in a dry run, or when the record changed meanwhile (`skipped`). */
  readonly executionArn: string | null;
  readonly skipped?: string;
}

/** The most records one bulk retry takes: more is an outage to look at first (`status`). */
export const BULK_RETRY_LIMIT = 10_000;

/**
 * Retries every ingest in `status` (FAILED or TIMED_OUT): what a restart or an outage
 * leaves. A record that changed meanwhile is skipped and said so; `dryRun` retries nothing.
 */
export async function retryInStatus(
  target: OpsTarget,
  status: IngestStatus,
  options: { dryRun?: boolean; now?: Date } = {},
): Promise<BulkRetried[]> {
  if (!RETRYABLE_STATUSES.includes(status)) {
    throw new NotRetryableError(`only FAILED or TIMED_OUT ingests are retried, not ${status}`);
  }
  const store = { client: target.documents, tableName: target.tableName };
  const records = await recordsInStatus(store, status, { limit: BULK_RETRY_LIMIT });
  const done: BulkRetried[] = [];
  for (const record of records) {
    const described = {
      source: `s3://${record.bucket}/${record.key}`,
      previousStatus: record.status,
      error: record.error ? `${record.error.code}: ${record.error.message}` : null,
    };
    if (options.dryRun) {
      done.push({ ...described, executionArn: null });
      continue;
    }
    try {
      const { executionArn } = await retryRecord(target, record, options.now);
      done.push({ ...described, executionArn });
    } catch (error) {
      if (!(error instanceof NotRetryableError)) throw error;
      done.push({ ...described, executionArn: null, skipped: error.message });
    }
  }
  return done;
}

async function retryRecord(target: OpsTarget, record: IngestRecord, now = new Date()): Promise<Retried> {
  if (!RETRYABLE_STATUSES.includes(record.status)) {
    throw new NotRetryableError(
      `s3://${record.bucket}/${record.key} is ${record.status}; only FAILED or TIMED_OUT ingests are retried${record.status === 'REJECTED' ? ' (a REJECTED file needs a new upload)' : ''}`,
    );
  }
  const attempt = (record.retries ?? 0) + 1;
  const { name, executionArn } = workflowExecutionOf(target, record, 'retry', attempt);
  const store = { client: target.documents, tableName: target.tableName };
  if (!(await requestRetry(store, record, executionArn, now.toISOString()))) {
    throw new NotRetryableError(
      `s3://${record.bucket}/${record.key} changed meanwhile; look again with "show"`,
    );
  }
  await startWorkflowOf(target, record, name, `retry-${attempt}`, now);
  return { record, executionArn };
}

/**
 * Moves every message of the dead-letter queue back to the ingest queue: sent first,
 * then deleted, so a crash in between duplicates a message (which the starter's
 * execution names absorb) and never loses one.
 */
export async function replayDeadLetters(target: OpsTarget): Promise<number> {
  let moved = 0;
  for (;;) {
    const { Messages } = await target.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: target.deadLetterQueueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 60,
        WaitTimeSeconds: 0,
      }),
    );
    if (!Messages || Messages.length === 0) return moved;
    for (const message of Messages) {
      await target.sqs.send(
        new SendMessageCommand({ QueueUrl: target.ingestQueueUrl, MessageBody: message.Body ?? '' }),
      );
      await target.sqs.send(
        new DeleteMessageCommand({
          QueueUrl: target.deadLetterQueueUrl,
          ReceiptHandle: message.ReceiptHandle ?? '',
        }),
      );
      moved += 1;
    }
  }
}

/** A fixed-width table for terminals. */
export function statusTable(records: readonly IngestRecord[]): string {
  const rows = records.map((record) => [
    record.status,
    record.updatedAt.replace(/\.\d+Z$/, 'Z'),
    `s3://${record.bucket}/${record.key}`,
    record.fileId ?? '-',
    record.error ? `${record.error.code}: ${record.error.message}` : '',
  ]);
  const header = ['STATUS', 'UPDATED', 'SOURCE', 'FILE', 'ERROR'];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (column === 4 ? 0 : (row[column] ?? '').length))),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
