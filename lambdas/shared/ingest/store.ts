/**
 * The ingest table: the reads and writes of ingest records and file pointers (the task
 * token's in `task-token.ts`, the transfer's lease in `transfer-lease.ts`, a source's claim
 * and its take-overs in `claims.ts`). Each write is
 * conditional, so concurrent handlers (a webhook, a poll, the workflow) never lose each
 * other's updates and statuses never move backwards; each says whether it changed the
 * status (`statusChanged`), which stream subscribers filter on.
 */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  PutCommand,
  ScanCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import {
  filePk,
  filePointerSchema,
  ingestRecordSchema,
  PRE_UPLOAD_STATUSES,
  type IngestError,
  type IngestRecord,
  type IngestStatus,
} from './record.ts';

export interface IngestStore {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

/**
 * The conditional write lost to a concurrent one; re-read and try again. `current`: the
 * record as the losing write found it, when DynamoDB answered it (no read needed then).
 */
export class ConcurrentUpdateError extends Error {
  override readonly name = 'ConcurrentUpdateError';
  constructor(
    message: string,
    readonly current?: IngestRecord,
  ) {
    super(message);
  }
}

function isConditionFailure(error: unknown): boolean {
  if (error instanceof ConditionalCheckFailedException) return true;
  if (error instanceof TransactionCanceledException) {
    return (error.CancellationReasons ?? []).some((reason) => reason.Code === 'ConditionalCheckFailed');
  }
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

/** Runs a conditional write: `true` when it was made, `false` when its condition did not hold. */
export async function conditionally(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

export function statusList(
  statuses: readonly IngestStatus[],
  prefix: string,
): { expression: string; values: Record<string, IngestStatus> } {
  const values = Object.fromEntries(statuses.map((status, index) => [`:${prefix}${index}`, status]));
  return { expression: `#status IN (${Object.keys(values).join(', ')})`, values };
}

export async function getRecord(store: IngestStore, pk: string): Promise<IngestRecord | undefined> {
  const { Item } = await store.client.send(
    new GetCommand({ TableName: store.tableName, Key: { pk }, ConsistentRead: true }),
  );
  return Item ? ingestRecordSchema.parse(Item) : undefined;
}

/**
 * Every ingest record, or those of one source object (`bucket` and `key`, every version):
 * a scan, for operators and the local runtime, never for the workflow's hot path.
 */
export async function scanRecords(
  store: IngestStore,
  source?: { bucket: string; key: string },
): Promise<IngestRecord[]> {
  const records: IngestRecord[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await store.client.send(
      new ScanCommand({
        TableName: store.tableName,
        FilterExpression: source ? 'kind = :ingest AND #bucket = :bucket AND #key = :key' : 'kind = :ingest',
        ...(source ? { ExpressionAttributeNames: { '#bucket': 'bucket', '#key': 'key' } } : {}),
        ExpressionAttributeValues: {
          ':ingest': 'ingest',
          ...(source ? { ':bucket': source.bucket, ':key': source.key } : {}),
        },
        ConsistentRead: true,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    for (const item of page.Items ?? []) records.push(ingestRecordSchema.parse(item));
    start = page.LastEvaluatedKey;
  } while (start);
  return records;
}

/**
 * The source `pk` a VideoGen file belongs to, or undefined for a file this deployment did not
 * create. `consistent: false` reads at half the cost and may miss a pointer written in the
 * last second or so (`file-pointers.ts` reads again consistently then).
 */
export async function findSourceOfFile(
  store: IngestStore,
  fileId: string,
  { consistent = true }: { readonly consistent?: boolean } = {},
): Promise<string | undefined> {
  const { Item } = await store.client.send(
    new GetCommand({ TableName: store.tableName, Key: { pk: filePk(fileId) }, ConsistentRead: consistent }),
  );
  return Item ? filePointerSchema.parse(Item).sourcePk : undefined;
}

/**
 * Records a created VideoGen file and its `FILE#` pointer in one transaction, before any
 * byte moves. Conditional on the attempts read before the create call, so two racing
 * Create invocations cannot both win. Answers the record as written (the transfer goes on
 * with it, reading nothing).
 */
export async function recordCreatedFile(
  store: IngestStore,
  record: IngestRecord,
  created: { fileId: string; displayName: string; at: string },
): Promise<IngestRecord> {
  const pre = statusList(PRE_UPLOAD_STATUSES, 's');
  const abandon = record.fileId !== null;
  const written = await conditionally(() =>
    store.client.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: store.tableName,
              Key: { pk: record.pk },
              UpdateExpression: `SET #status = :created, fileId = :fileId, displayName = :displayName, attempts = :attempts, updatedAt = :at, statusChanged = :changed, #version = #version + :one, events = :noEvents, #file = :noFile${
                abandon ? ', abandonedFileIds = list_append(abandonedFileIds, :abandoned)' : ''
              }`,
              ConditionExpression: `attempts = :expectedAttempts AND ${pre.expression}`,
              ExpressionAttributeNames: { '#status': 'status', '#version': 'version', '#file': 'file' },
              ExpressionAttributeValues: {
                ':created': 'CREATED',
                ':changed': record.status !== 'CREATED',
                ':fileId': created.fileId,
                ':displayName': created.displayName,
                ':attempts': record.attempts + 1,
                ':expectedAttempts': record.attempts,
                ':at': created.at,
                ':one': 1,
                ':noEvents': {},
                ':noFile': null,
                ...(abandon ? { ':abandoned': [record.fileId] } : {}),
                ...pre.values,
              },
            },
          },
          {
            Put: {
              TableName: store.tableName,
              Item: filePointerSchema.parse({
                pk: filePk(created.fileId),
                kind: 'file-pointer',
                sourcePk: record.pk,
                createdAt: created.at,
              }),
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
        ],
      }),
    ),
  );
  if (!written) throw new ConcurrentUpdateError(`${record.pk} changed while its file was created`);
  // What the update above SET, field for field.
  return {
    ...record,
    status: 'CREATED',
    fileId: created.fileId,
    displayName: created.displayName,
    attempts: record.attempts + 1,
    updatedAt: created.at,
    statusChanged: record.status !== 'CREATED',
    version: record.version + 1,
    events: {},
    file: null,
    abandonedFileIds: abandon ? [...record.abandonedFileIds, record.fileId ?? ''] : record.abandonedFileIds,
  };
}

/**
 * Moves the status forward to `to` if it is one of `from`; answers whether it did. A
 * record already further along (a webhook got there first) is left as it is, and so is
 * one that another execution owns when `executionArn` is given, or that holds another
 * VideoGen file when `fileId` is.
 */
export async function advanceStatus(
  store: IngestStore,
  pk: string,
  from: readonly IngestStatus[],
  to: IngestStatus,
  at: string,
  options: { readonly error?: IngestError; readonly executionArn?: string; readonly fileId?: string } = {},
): Promise<boolean> {
  const { error, executionArn, fileId } = options;
  const allowed = statusList(from, 'from');
  const conditions = [
    allowed.expression,
    ...(executionArn ? ['executionArn = :execution'] : []),
    ...(fileId ? ['fileId = :fileId'] : []),
  ];
  return conditionally(() =>
    store.client.send(
      new UpdateCommand({
        TableName: store.tableName,
        Key: { pk },
        UpdateExpression: `SET #status = :to, updatedAt = :at, statusChanged = :true, #version = #version + :one${error ? ', #error = :error' : ''}`,
        ConditionExpression: conditions.join(' AND '),
        ExpressionAttributeNames: {
          '#status': 'status',
          '#version': 'version',
          ...(error ? { '#error': 'error' } : {}),
        },
        ExpressionAttributeValues: {
          ':to': to,
          ':at': at,
          ':one': 1,
          ':true': true,
          ...(error ? { ':error': error } : {}),
          ...(executionArn ? { ':execution': executionArn } : {}),
          ...(fileId ? { ':fileId': fileId } : {}),
          ...allowed.values,
        },
      }),
    ),
  );
}

/** Replaces a record with `next` if nobody wrote it since `previous` was read. */
export async function saveRecord(
  store: IngestStore,
  previous: IngestRecord,
  next: IngestRecord,
): Promise<void> {
  const { taskToken: _dropped, ...withoutToken } = next;
  const item = ingestRecordSchema.parse({
    ...withoutToken,
    ...(previous.taskToken === undefined ? {} : { taskToken: previous.taskToken }),
    statusChanged: next.status !== previous.status,
    version: previous.version + 1,
  });
  try {
    await store.client.send(
      new PutCommand({
        TableName: store.tableName,
        Item: item,
        ConditionExpression: '#version = :expected',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: { ':expected': previous.version },
        // The record that won comes with the refusal, for the retry: a conflict costs no read.
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    const found = error instanceof ConditionalCheckFailedException ? error.Item : undefined;
    throw new ConcurrentUpdateError(
      `${previous.pk} changed concurrently`,
      found ? ingestRecordSchema.parse(unmarshall(found)) : undefined,
    );
  }
}
