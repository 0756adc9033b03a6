/**
 * S3 on loopback (s3rver) with the drop bucket, and its object-created notifications
 * turned into what EventBridge delivers in AWS: "Object Created" events. A thin front
 * decodes `aws-chunked` uploads (what `aws s3 cp` and the SDKs send by default now)
 * before s3rver sees them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CopyObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import type { ObjectCreatedEvent } from '../../../lambdas/starter/starter.ts';
import { signingAccessKey } from '../../iam/sigv4.ts';
import { forwardToS3rver, s3Error, type ForwardChange } from './s3-forward.ts';
import { HashedKeyStore, S3_MAX_KEY_BYTES } from './s3-store.ts';
import { listObjectsV2 } from './s3-list.ts';
import { listVersionsXml, newVersionId, VersionIndex } from './s3-versions.ts';
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

/** A key as a URL path: each segment encoded, the slashes kept. */
function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
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
  // Objects under a hash of their key: any key S3 takes fits a file name (`s3-store.ts`).
  const store = new HashedKeyStore(directory);
  server.store = server.context.store = store;
  /** Each drop bucket's versions, and the version id a write in progress gets, by key (set before it is forwarded). */
  const drops = new Map<
    string,
    { versions: VersionIndex; versionsBucket: string; writing: Map<string, string> }
  >();
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
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  /** Keeps the current version of `key` (before it is replaced or deleted) in the versions bucket. */
  const keepCurrent = async (bucket: string, key: string): Promise<void> => {
    const { versions, versionsBucket } = drops.get(bucket) ?? {};
    const current = versions?.current(key);
    if (!current) return;
    await direct.send(
      new CopyObjectCommand({
        Bucket: versionsBucket,
        Key: `${key}/${current.versionId}`,
        CopySource: `${bucket}/${encodeKey(key)}`,
      }),
    );
  };
  /** One request's error is that request's answer: nothing a client sends may end the emulator. */
  const routeSafely = (request: http.IncomingMessage, response: http.ServerResponse): void => {
    try {
      route(request, response);
    } catch (error) {
      request.resume();
      if (response.headersSent) return void response.destroy();
      if (error instanceof URIError) {
        return s3Error(
          response,
          request.method ?? 'GET',
          400,
          'InvalidURI',
          "Couldn't parse the specified URI.",
        );
      }
      s3Error(response, request.method ?? 'GET', 500, 'InternalError', String(error));
    }
  };
  const front = http.createServer((request, response) => {
    const accessKeyId = signingAccessKey(request.headers.authorization, request.url);
    if (!options.judge) return routeSafely(request, response);
    request.pause();
    options.judge(request.method ?? 'GET', request.url ?? '/', accessKeyId).then(
      () => routeSafely(request, response),
      (error: unknown) => {
        request.resume();
        if (error instanceof Error && error.name === 'AccessDeniedException') {
          s3Error(response, request.method ?? 'GET', 403, 'AccessDenied', error.message);
        } else if (error instanceof URIError) {
          s3Error(response, request.method ?? 'GET', 400, 'InvalidURI', "Couldn't parse the specified URI.");
        } else {
          response.writeHead(500).end();
        }
      },
    );
  });
  /** Versioning on the drop buckets' objects (`s3-versions.ts`); everything else goes straight through. */
  const route = (request: http.IncomingMessage, response: http.ServerResponse): void => {
    const url = new URL(request.url ?? '/', 'http://local');
    const [, bucket, ...rest] = url.pathname.split('/');
    const key = rest.map((part) => decodeURIComponent(part)).join('/');
    const method = request.method ?? 'GET';
    if ((method === 'PUT' || method === 'POST') && Buffer.byteLength(key) > S3_MAX_KEY_BYTES) {
      request.resume();
      return s3Error(response, method, 400, 'KeyTooLongError', 'Your key is too long');
    }
    const drop = bucket === undefined ? undefined : drops.get(bucket);
    if (!bucket || !drop) return void proxy(request, response);
    const { versions, versionsBucket, writing } = drop;
    const fail = (error: unknown) => {
      if (!response.headersSent) s3Error(response, method, 500, 'InternalError', String(error));
      else response.destroy();
    };
    if (!key) {
      if (method === 'GET' && url.searchParams.get('list-type') === '2') {
        return void listObjectsV2(store, bucket, url.searchParams).then((answer) => {
          if (answer.status !== 200)
            return s3Error(response, method, answer.status, answer.code, answer.message);
          response.writeHead(200, {
            'content-type': 'application/xml',
            'content-length': Buffer.byteLength(answer.body),
          });
          response.end(answer.body);
        }, fail);
      }
      if (method === 'GET' && url.searchParams.has('versions')) {
        const body = listVersionsXml(bucket, url.searchParams.get('prefix') ?? '', versions);
        response.writeHead(200, {
          'content-type': 'application/xml',
          'content-length': Buffer.byteLength(body),
        });
        return void response.end(body);
      }
      return void proxy(request, response);
    }
    const query = url.searchParams;
    // A new object (PUT, a copy, a completed multipart upload); not a part, nor a subresource.
    const subresource = ['partNumber', 'tagging', 'acl', 'retention', 'legal-hold'].some((name) =>
      query.has(name),
    );
    const completesObject =
      (method === 'PUT' && !subresource) || (method === 'POST' && query.has('uploadId'));
    if (completesObject || (method === 'DELETE' && !query.has('uploadId'))) {
      request.pause();
      void versions
        .exclusive(key, async () => {
          const asked = query.get('versionId');
          if (method === 'DELETE' && asked && asked !== versions.current(key)?.versionId) {
            // An older version: only its kept copy goes.
            query.delete('versionId');
            return proxy(request, response, { path: `/${versionsBucket}/${encodeKey(`${key}/${asked}`)}` });
          }
          const prior = versions.current(key);
          await keepCurrent(bucket, key);
          // From here reads of the prior version go to its copy: s3rver is about to replace or
          // remove the key's file, and a reader must never see that half-way.
          if (prior) await versions.deleted(key);
          let status: number;
          if (method === 'DELETE') {
            ({ status } = await proxy(request, response, {
              path: `/${bucket}/${encodeKey(key)}`,
              headers: { 'x-amz-delete-marker': 'true', 'x-amz-version-id': newVersionId() },
            }));
          } else {
            const versionId = newVersionId();
            writing.set(key, versionId);
            try {
              ({ status } = await proxy(request, response, { headers: { 'x-amz-version-id': versionId } }));
            } finally {
              writing.delete(key);
            }
          }
          // Refused (a bad request, a denied PUT): the prior version is still the key's.
          if (status >= 300 && prior && !versions.current(key)) await versions.created(key, prior);
        })
        .catch(fail);
      return;
    }
    if (method === 'GET' || method === 'HEAD') {
      const asked = query.get('versionId');
      const ifMatch = request.headers['if-match'];
      const found = asked ? versions.find(key, asked) : undefined;
      const version = asked ? found?.version : versions.current(key);
      if (asked && !found) {
        return s3Error(response, method, 404, 'NoSuchVersion', 'The specified version does not exist.');
      }
      if (ifMatch && version && ifMatch.replace(/"/g, '') !== version.etag) {
        return s3Error(
          response,
          method,
          412,
          'PreconditionFailed',
          'At least one of the pre-conditions you specified did not hold',
        );
      }
      query.delete('versionId');
      const search = query.size > 0 ? `?${query.toString()}` : '';
      return void proxy(request, response, {
        path:
          found && !found.isCurrent
            ? `/${versionsBucket}/${encodeKey(`${key}/${found.version.versionId}`)}${search}`
            : `/${bucket}/${encodeKey(key)}${search}`,
        ...(version ? { headers: { 'x-amz-version-id': version.versionId } } : {}),
      }).catch(fail);
    }
    void proxy(request, response).catch(fail);
  };

  /** To s3rver (`s3-forward.ts`), at `path` when given, with `headers` added to its answer. */
  const proxy = (
    request: http.IncomingMessage,
    response: http.ServerResponse,
    change: ForwardChange = {},
  ): Promise<{ status: number }> => forwardToS3rver(backend.port, request, response, change);
  try {
    await new Promise<void>((resolve, reject) => {
      front.once('error', reject);
      front.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
  } catch (error) {
    // A taken port: nothing of this emulator may outlive the failed start.
    direct.destroy();
    await server.close();
    if (!options.directory) await rm(directory, { recursive: true, force: true });
    throw error;
  }
  const port = (front.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket: options.bucket,
    directEndpoint: `http://127.0.0.1:${backend.port}`,
    close: async () => {
      front.closeAllConnections();
      await new Promise<void>((resolve) => front.close(() => resolve()));
      await server.close();
      direct.destroy();
      if (!options.directory) await rm(directory, { recursive: true, force: true });
    },
  };
}
