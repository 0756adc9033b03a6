/**
 * Reconciliation: what the bucket holds against what the table recorded. An object with
 * no record (its event lost, or dead-lettered past retention) is ingested again through
 * the ingest queue, as its S3 event would have been; a record whose workflow never ended
 * is reported, and resumed where its execution is known to be gone (a local runtime that
 * stopped mid-way: `start` resumes them).
 */
import { ListObjectsV2Command, ListObjectVersionsCommand, type S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { isUnfinished, sourcePk, type IngestRecord } from '../lambdas/shared/ingest/record.ts';
import { scanRecords } from '../lambdas/shared/ingest/store.ts';
import { requestResume } from '../lambdas/shared/ingest/claims.ts';
import type { ObjectCreatedEvent } from '../lambdas/starter/starter.ts';
import { startWorkflowOf, workflowExecutionOf } from './ops.ts';
import type { OpsTarget } from './target.ts';

/** An object as the bucket lists it now (its current version). */
export interface BucketObject {
  readonly key: string;
  readonly versionId: string | null;
  readonly etag: string;
  readonly size: number;
}

export interface ReconcileOptions {
  /** Only keys under this prefix. */
  readonly prefix?: string;
  /** Report only: send nothing, resume nothing. */
  readonly dryRun?: boolean;
  /**
   * Start a new execution for every unfinished record, continuing it as it stands. Only
   * where the old executions are known to be gone: a local runtime's restart.
   * @default false
   */
  readonly resumeUnfinished?: boolean;
  readonly now?: () => Date;
}

export interface ReconcileReport {
  /** Objects in the bucket (under the prefix). */
  readonly objects: number;
  /** Objects with no ingest record: re-ingested through the queue unless a dry run. */
  readonly unrecorded: readonly BucketObject[];
  /** Records whose workflow has not ended. */
  readonly unfinished: readonly IngestRecord[];
  /** Of those, the ones resumed (a new execution continues each). */
  readonly resumed: readonly IngestRecord[];
}

export async function reconcile(target: OpsTarget, options: ReconcileOptions = {}): Promise<ReconcileReport> {
  const now = options.now ?? (() => new Date());
  const prefix = options.prefix ?? '';
  const [objects, records] = await Promise.all([
    listCurrentObjects(target.s3, target.bucket, prefix),
    scanRecords({ client: target.documents, tableName: target.tableName }),
  ]);
  const recorded = new Set(records.map((record) => record.pk));
  const unrecorded = objects.filter(
    (object) => !recorded.has(sourcePk({ bucket: target.bucket, ...object })),
  );
  const unfinished = records.filter(
    (record) => record.bucket === target.bucket && record.key.startsWith(prefix) && isUnfinished(record),
  );
  if (options.dryRun) return { objects: objects.length, unrecorded, unfinished, resumed: [] };

  for (const object of unrecorded) {
    await target.sqs.send(
      new SendMessageCommand({
        QueueUrl: target.ingestQueueUrl,
        MessageBody: JSON.stringify(objectCreatedEvent(target.bucket, object, now())),
      }),
    );
  }
  const resumed: IngestRecord[] = [];
  if (options.resumeUnfinished) {
    for (const record of unfinished) {
      if (await resume(target, record, now())) resumed.push(record);
    }
  }
  return { objects: objects.length, unrecorded, unfinished, resumed };
}

/** The event S3 would have sent for the object (the starter reads nothing else). */
function objectCreatedEvent(bucket: string, object: BucketObject, at: Date): ObjectCreatedEvent {
  return {
    'detail-type': 'Object Created',
    source: 'aws.s3',
    time: at.toISOString(),
    detail: {
      bucket: { name: bucket },
      object: {
        key: object.key,
        size: object.size,
        etag: object.etag,
        ...(object.versionId ? { 'version-id': object.versionId } : {}),
        // Its own sequencer: a new execution name, which the record's key then deduplicates.
        sequencer: `reconcile-${at.getTime()}`,
      },
    },
  };
}

/** Starts the execution that continues `record` (marked first, so a record that moved meanwhile is left alone). */
async function resume(target: OpsTarget, record: IngestRecord, at: Date): Promise<boolean> {
  const { name, executionArn } = workflowExecutionOf(target, record, 'resume', record.version);
  const store = { client: target.documents, tableName: target.tableName };
  if (!(await requestResume(store, record, executionArn, at.toISOString()))) return false;
  await startWorkflowOf(target, record, name, `resume-${record.version}`, at);
  return true;
}

/**
 * The bucket's current objects: their versions where the bucket keeps versions (a
 * versioned bucket's record is keyed by version), else ListObjectsV2's ETags.
 */
export async function listCurrentObjects(
  s3: S3Client,
  bucket: string,
  prefix: string,
): Promise<BucketObject[]> {
  const objects: BucketObject[] = [];
  const unquoted = (etag: string | undefined) => (etag ?? '').replace(/^"|"$/g, '');
  try {
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectVersionsCommand({
          Bucket: bucket,
          Prefix: prefix,
          ...(keyMarker ? { KeyMarker: keyMarker } : {}),
          ...(versionMarker ? { VersionIdMarker: versionMarker } : {}),
        }),
      );
      for (const version of page.Versions ?? []) {
        if (!version.IsLatest || !version.Key) continue;
        const versionId = version.VersionId && version.VersionId !== 'null' ? version.VersionId : null;
        objects.push({ key: version.Key, versionId, etag: unquoted(version.ETag), size: version.Size ?? 0 });
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      versionMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
    } while (keyMarker);
    return objects;
  } catch (error) {
    // An S3 without versions (an emulator): the current objects are all there is.
    if (!(error instanceof Error) || !/NotImplemented|MethodNotAllowed|InvalidArgument/.test(error.name))
      throw error;
  }
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    for (const object of page.Contents ?? []) {
      if (object.Key)
        objects.push({
          key: object.Key,
          versionId: null,
          etag: unquoted(object.ETag),
          size: object.Size ?? 0,
        });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return objects;
}
