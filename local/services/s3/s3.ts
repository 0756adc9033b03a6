/**
 * S3 on loopback: s3rver with the drop buckets, behind the front (`s3-front.ts`: IAM,
 * versioning, listings, `aws-chunked` decoding), and their object-created notifications
 * turned into what EventBridge delivers in AWS: "Object Created" events.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import type { ObjectCreatedEvent } from '../../../lambdas/starter/starter.ts';
import { startFront, type HttpFront } from '../../http/front.ts';
import { LOCAL_CREDENTIALS } from '../../iam/local-credentials.ts';
import { S3Front, type DropBucket } from './s3-front.ts';
import { HashedKeyStore } from './s3-store.ts';
import { VersionIndex } from './s3-versions.ts';
import { encodeEventKey } from '../../../lambdas/shared/s3-event-key.ts';

export interface LocalS3 {
  /** `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL_S3` and `aws s3 --endpoint-url`. */
  readonly endpoint: string;
  readonly bucket: string;
  /** s3rver itself, without the front: for benchmarks that measure a transfer, not the decoding of uploads. */
  readonly directEndpoint: string;
  close(): Promise<void>;
}

export interface LocalS3Options {
  readonly bucket: string;
  /** More drop buckets, versioned and announced as `bucket` is: the stack's other ingests'. */
  readonly otherBuckets?: readonly string[];
  readonly port?: number;
  /** Where objects live; a temporary folder, removed on close, by default. */
  readonly directory?: string;
  readonly onObjectCreated: (event: ObjectCreatedEvent) => void;
  /**
   * Refuses calls IAM would refuse (the local runtime's IAM): given the method, the URL and
   * the access key the request is signed with; throws an `AccessDeniedException` to refuse.
   */
  readonly judge?: (method: string, url: string, accessKeyId: string | undefined) => Promise<void>;
}

export async function startS3(options: LocalS3Options): Promise<LocalS3> {
  const directory = options.directory ?? (await mkdtemp(path.join(tmpdir(), 'videogen-s3-')));
  const dropBuckets = [options.bucket, ...(options.otherBuckets ?? [])];
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    allowMismatchedSignatures: true,
    vhostBuckets: false,
    // Each drop bucket, and where its replaced and deleted versions are kept (`s3-versions.ts`).
    configureBuckets: dropBuckets.flatMap((name) => [{ name }, { name: `${name}.versions` }]),
  });
  // Silent, s3rver still runs koa-logger on every request: it formats a line nobody sees and
  // pipes every response body through a byte counter. Koa keeps its middleware in this list.
  server.middleware = server.middleware.filter((middleware) => middleware.name !== 'logger');
  // Objects under a hash of their key: any key S3 takes fits a file name (`s3-store.ts`).
  const store = new HashedKeyStore(directory);
  server.store = server.context.store = store;
  /** Each drop bucket's versions, and the version id a write in progress gets, by key (set before it is forwarded). */
  const drops = new Map<string, DropBucket>();
  for (const [index, name] of dropBuckets.entries()) {
    // The first bucket's index keeps the name a state folder has always had.
    const log = path.join(directory, index === 0 ? 'versions.jsonl' : `versions-${name}.jsonl`);
    drops.set(name, {
      versions: await VersionIndex.open(log),
      versionsBucket: `${name}.versions`,
      writing: new Map(),
    });
  }
  // s3rver's sequencer is the clock in ms; S3's grows with every write to a key. A counter keeps two writes apart.
  let sequence = 0;
  server.on('event', ({ Records }) => {
    for (const record of Records) {
      const drop = drops.get(record.s3.bucket.name);
      if (!record.eventName.startsWith('ObjectCreated:') || !drop) continue;
      const { versions, writing } = drop;
      sequence += 1;
      const key = record.s3.object.key;
      const versionId = writing.get(key);
      // Indexed before the event is sent: a reader of this version may come at once.
      if (versionId) {
        void versions.created(key, {
          versionId,
          etag: (record.s3.object.eTag ?? '').replace(/"/g, ''),
          size: record.s3.object.size ?? 0,
          lastModified: record.eventTime,
        });
      }
      options.onObjectCreated({
        'detail-type': 'Object Created',
        source: 'aws.s3',
        time: record.eventTime,
        detail: {
          bucket: { name: record.s3.bucket.name },
          object: {
            // Encoded as AWS documents for S3 event notifications, so every local test runs
            // the handlers' decoding (lambdas/shared/s3-event-key.ts).
            key: encodeEventKey(record.s3.object.key),
            ...(record.s3.object.size === undefined ? {} : { size: record.s3.object.size }),
            ...(record.s3.object.eTag === undefined ? {} : { etag: record.s3.object.eTag }),
            ...(versionId ? { 'version-id': versionId } : {}),
            sequencer: sequence.toString(16).padStart(16, '0').toUpperCase(),
          },
        },
      });
    }
  });
  const backend = await server.run();
  const direct = new S3Client({
    endpoint: `http://127.0.0.1:${backend.port}`,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
  let front: HttpFront;
  try {
    front = await startFront(
      new S3Front({
        store,
        drops,
        backend: { handle: server.callback() },
        direct,
        ...(options.judge ? { judge: options.judge } : {}),
      }),
      options.port === undefined ? {} : { port: options.port },
    );
  } catch (error) {
    // A taken port: nothing of this emulator may outlive the failed start.
    direct.destroy();
    await server.close();
    if (!options.directory) await rm(directory, { recursive: true, force: true });
    throw error;
  }
  return {
    endpoint: front.endpoint,
    bucket: options.bucket,
    directEndpoint: `http://127.0.0.1:${backend.port}`,
    close: async () => {
      await front.close();
      await server.close();
      direct.destroy();
      if (!options.directory) await rm(directory, { recursive: true, force: true });
    },
  };
}
