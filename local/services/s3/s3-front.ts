/**
 * The S3 front: what the local S3 does before s3rver sees a request. IAM judges it (by the
 * key it is signed with); the drop buckets' objects are versioned (`s3-versions.ts`: a
 * replaced or deleted version kept, reads by version id and `If-Match`), their listings
 * answered here (`s3-list.ts`), keys over S3's limit refused; everything else is forwarded
 * to s3rver (`s3-forward.ts`). One request's error is that request's answer.
 */
import http from 'node:http';
import { CopyObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ServiceProtocol } from '../../http/front.ts';
import { forwardToS3rver, s3Error, type ForwardChange, type S3rverBackend } from './s3-forward.ts';
import { listObjectsV2 } from './s3-list.ts';
import { S3_MAX_KEY_BYTES, type HashedKeyStore } from './s3-store.ts';
import { listVersionsXml, newVersionId, type VersionIndex } from './s3-versions.ts';

/** A drop bucket as the front versions it: its index, where old versions are kept, the version id each write in progress gets. */
export interface DropBucket {
  readonly versions: VersionIndex;
  readonly versionsBucket: string;
  readonly writing: Map<string, string>;
}

export interface S3FrontSettings {
  readonly store: HashedKeyStore;
  readonly drops: ReadonlyMap<string, DropBucket>;
  /** s3rver, and a client of it (copies of replaced versions). */
  readonly backend: S3rverBackend;
  readonly direct: S3Client;
  /** Refuses what IAM would refuse: throws an `AccessDeniedException`. */
  readonly judge?: (method: string, url: string, accessKeyId: string | undefined) => Promise<void>;
}

/** A key as a URL path: each segment encoded, the slashes kept. */
function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/** What IAM judges of an S3 request. */
export interface S3Call {
  readonly method: string;
  readonly url: string;
}

/** S3's protocol on the HTTP front (`../../http/front.ts`). */
export class S3Front implements ServiceProtocol<S3Call> {
  readonly #settings: S3FrontSettings;

  constructor(settings: S3FrontSettings) {
    this.#settings = settings;
  }

  /**
   * A request's call, as IAM judges it: the method and the URL. The body is left unread, and
   * not paused either: s3rver reads some bodies by their `data` events, which a paused
   * stream never emits.
   */
  readCall(request: http.IncomingMessage): S3Call {
    return { method: request.method ?? 'GET', url: request.url ?? '/' };
  }

  async judge(call: S3Call, accessKeyId: string | undefined): Promise<void> {
    await this.#settings.judge?.(call.method, call.url, accessKeyId);
  }

  /** A call IAM allowed: the drop buckets' objects versioned (`s3-versions.ts`), the rest forwarded. */
  handle(_call: S3Call, request: http.IncomingMessage, response: http.ServerResponse): void {
    this.#route(request, response);
  }

  answerError(error: unknown, request: http.IncomingMessage, response: http.ServerResponse): void {
    const method = request.method ?? 'GET';
    if (error instanceof Error && error.name === 'AccessDeniedException')
      s3Error(response, method, 403, 'AccessDenied', error.message);
    else if (error instanceof URIError)
      s3Error(response, method, 400, 'InvalidURI', "Couldn't parse the specified URI.");
    else s3Error(response, method, 500, 'InternalError', String(error));
  }

  /** Keeps the current version of `key` (before it is replaced or deleted) in the versions bucket. */
  async #keepCurrent(bucket: string, key: string): Promise<void> {
    const { versions, versionsBucket } = this.#settings.drops.get(bucket) ?? {};
    const current = versions?.current(key);
    if (!current) return;
    await this.#settings.direct.send(
      new CopyObjectCommand({
        Bucket: versionsBucket,
        Key: `${key}/${current.versionId}`,
        CopySource: `${bucket}/${encodeKey(key)}`,
      }),
    );
  }

  /** Versioning on the drop buckets' objects; everything else goes straight to s3rver. */
  #route(request: http.IncomingMessage, response: http.ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://local');
    const [, bucket, ...rest] = url.pathname.split('/');
    const key = rest.map((part) => decodeURIComponent(part)).join('/');
    const method = request.method ?? 'GET';
    if ((method === 'PUT' || method === 'POST') && Buffer.byteLength(key) > S3_MAX_KEY_BYTES) {
      request.resume();
      return s3Error(response, method, 400, 'KeyTooLongError', 'Your key is too long');
    }
    const drop = bucket === undefined ? undefined : this.#settings.drops.get(bucket);
    if (!bucket || !drop) return void this.#proxy(request, response);
    const { versions, versionsBucket, writing } = drop;
    const fail = (error: unknown) => {
      if (!response.headersSent) s3Error(response, method, 500, 'InternalError', String(error));
      else response.destroy();
    };
    if (!key) {
      if (method === 'GET' && url.searchParams.get('list-type') === '2') {
        return void listObjectsV2(this.#settings.store, bucket, url.searchParams).then((answer) => {
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
      return void this.#proxy(request, response);
    }
    const query = url.searchParams;
    // A new object (PUT, a copy, a completed multipart upload); not a part, nor a subresource.
    const subresource = ['partNumber', 'tagging', 'acl', 'retention', 'legal-hold'].some((name) =>
      query.has(name),
    );
    const completesObject =
      (method === 'PUT' && !subresource) || (method === 'POST' && query.has('uploadId'));
    if (completesObject || (method === 'DELETE' && !query.has('uploadId'))) {
      void versions
        .exclusive(key, async () => {
          const asked = query.get('versionId');
          if (method === 'DELETE' && asked && asked !== versions.current(key)?.versionId) {
            // An older version: only its kept copy goes.
            query.delete('versionId');
            return this.#proxy(request, response, {
              path: `/${versionsBucket}/${encodeKey(`${key}/${asked}`)}`,
            });
          }
          const prior = versions.current(key);
          await this.#keepCurrent(bucket, key);
          // From here reads of the prior version go to its copy: s3rver is about to replace or
          // remove the key's file, and a reader must never see that half-way.
          if (prior) await versions.deleted(key);
          let status: number;
          if (method === 'DELETE') {
            ({ status } = await this.#proxy(request, response, {
              path: `/${bucket}/${encodeKey(key)}`,
              headers: { 'x-amz-delete-marker': 'true', 'x-amz-version-id': newVersionId() },
            }));
          } else {
            const versionId = newVersionId();
            writing.set(key, versionId);
            try {
              ({ status } = await this.#proxy(request, response, {
                headers: { 'x-amz-version-id': versionId },
              }));
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
      return void this.#proxy(request, response, {
        path:
          found && !found.isCurrent
            ? `/${versionsBucket}/${encodeKey(`${key}/${found.version.versionId}`)}${search}`
            : `/${bucket}/${encodeKey(key)}${search}`,
        ...(version ? { headers: { 'x-amz-version-id': version.versionId } } : {}),
      }).catch(fail);
    }
    void this.#proxy(request, response).catch(fail);
  }

  /** To s3rver (`s3-forward.ts`), at `path` when given, with `headers` added to its answer. */
  #proxy(
    request: http.IncomingMessage,
    response: http.ServerResponse,
    change: ForwardChange = {},
  ): Promise<{ status: number }> {
    return forwardToS3rver(this.#settings.backend, request, response, change);
  }
}
