/**
 * What a stream mapping makes of failures: the function's partial-batch response read as
 * Lambda reads it, and the invocation record it sends to the on-failure destination
 * (the "DDBStreamBatchInfo" of Lambda's developer guide).
 */
import { randomUUID } from 'node:crypto';
import type { StreamRecord } from './dynamodb-streams.ts';

/** The invocation record Lambda sends to a stream mapping's on-failure destination. */
export interface OnFailureRecord {
  readonly requestContext: {
    readonly requestId: string;
    readonly functionArn: string;
    readonly condition: 'RetryAttemptsExhausted' | 'RecordAgeExceeded';
    readonly approximateInvokeCount: number;
  };
  readonly responseContext: {
    readonly statusCode: number;
    readonly executedVersion: string;
    readonly functionError?: string;
  };
  readonly version: '1.0';
  readonly timestamp: string;
  readonly DDBStreamBatchInfo: {
    readonly shardId: string;
    readonly startSequenceNumber: string;
    readonly endSequenceNumber: string;
    readonly approximateArrivalOfFirstRecord: string;
    readonly approximateArrivalOfLastRecord: string;
    readonly batchSize: number;
    readonly streamArn: string;
  };
}

/** The invocation record of records given up, as Lambda sends it to an on-failure destination. */
export function onFailureRecord(given: {
  records: readonly StreamRecord[];
  condition: OnFailureRecord['requestContext']['condition'];
  attempts: number;
  functionError: boolean;
  functionArn: string;
  streamArn: string;
  shardId: string;
  now: number;
}): OnFailureRecord {
  const first = given.records[0] as StreamRecord;
  const last = given.records.at(-1) as StreamRecord;
  const arrival = (record: StreamRecord) =>
    new Date(record.dynamodb.ApproximateCreationDateTime * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    requestContext: {
      requestId: randomUUID(),
      functionArn: given.functionArn,
      condition: given.condition,
      approximateInvokeCount: given.attempts,
    },
    responseContext: {
      statusCode: 200,
      executedVersion: '$LATEST',
      ...(given.functionError ? { functionError: 'Unhandled' } : {}),
    },
    version: '1.0',
    timestamp: new Date(given.now).toISOString(),
    DDBStreamBatchInfo: {
      shardId: given.shardId,
      startSequenceNumber: first.dynamodb.SequenceNumber,
      endSequenceNumber: last.dynamodb.SequenceNumber,
      approximateArrivalOfFirstRecord: arrival(first),
      approximateArrivalOfLastRecord: arrival(last),
      batchSize: given.records.length,
      streamArn: given.streamArn,
    },
  };
}

/** The sequence numbers a `ReportBatchItemFailures` response names; `invalid` for a malformed one (a complete failure, as documented). */
export function batchItemFailures(response: unknown): string[] | 'invalid' {
  if (response === null || response === undefined || typeof response !== 'object') return [];
  const list = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (list === null || list === undefined) return [];
  if (!Array.isArray(list)) return 'invalid';
  const ids: string[] = [];
  for (const entry of list as unknown[]) {
    const id = (entry as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || id === '') return 'invalid';
    ids.push(id);
  }
  return ids;
}
