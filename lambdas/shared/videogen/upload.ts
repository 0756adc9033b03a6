import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MAX_SINGLE_PUT_BYTES } from './contract.ts';
import { SourceStreamError, VideoGenNetworkError, VideoGenValidationError } from './errors.ts';
import { errorFromAnswer, redactUrl } from './http-errors.ts';
import { describeNetworkError } from './client.ts';
import { keepAliveAgents } from './http.ts';

export interface UploadOptions {
  /** The presigned URL from `createFile`. Its query string is a credential and is never logged. */
  readonly url: string;
  /** The bytes, as a stream read exactly once. Backpressure is respected; nothing is buffered beyond the stream's highWaterMark. */
  readonly body: Readable;
  /** The exact number of bytes `body` yields; sent as `Content-Length`. */
  readonly contentLength: number;
  /** Only when the URL was presigned with one. */
  readonly contentType?: string;
  readonly signal?: AbortSignal;
  /** Fails the upload when no byte moves for this long. Idle, not total: a 4 GiB file takes minutes. @default 30000 */
  readonly idleTimeoutMs?: number;
  /** Injected for tests. @default a shared keep-alive agent */
  readonly agent?: http.Agent;
}

export interface UploadResult {
  readonly bytesSent: number;
  readonly status: number;
}

/**
 * `PUT <uploadUrl>` with the raw bytes, streamed with a `Content-Length` header.
 *
 * Written on `http.request` + `pipeline` by hand because no client library does all of:
 * a fixed `Content-Length` (presigned URLs refuse chunked bodies), true streaming (Node's
 * `fetch` buffers a stream body in full unless `redirect: 'error'`, and `duplex: 'half'`
 * still sends chunked), and telling a failed *source* (retry with a fresh stream) from a
 * failed *target* (retry the PUT) from an early answer (403: the URL expired).
 */
export async function uploadToPresignedUrl(options: UploadOptions): Promise<UploadResult> {
  const { contentLength, body } = options;
  if (!Number.isSafeInteger(contentLength) || contentLength < 0) {
    throw new VideoGenValidationError(`contentLength must be a whole number of bytes, got ${contentLength}`);
  }
  if (contentLength > MAX_SINGLE_PUT_BYTES) {
    throw new VideoGenValidationError(
      `${contentLength} bytes is over the ${MAX_SINGLE_PUT_BYTES}-byte ceiling of a single presigned PUT`,
    );
  }
  let target: URL;
  try {
    target = new URL(options.url);
  } catch {
    throw new VideoGenValidationError('uploadUrl is not a valid URL');
  }
  const protocol = target.protocol;
  if (protocol !== 'http:' && protocol !== 'https:') {
    throw new VideoGenValidationError(`uploadUrl must be http(s), got ${protocol}`);
  }
  const what = `PUT ${redactUrl(target)}`;
  const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;

  const headers: http.OutgoingHttpHeaders = { 'content-length': contentLength };
  if (options.contentType) headers['content-type'] = options.contentType;
  const request = (protocol === 'https:' ? https : http).request(target, {
    method: 'PUT',
    headers,
    agent: options.agent ?? keepAliveAgents[protocol],
    ...(options.signal ? { signal: options.signal } : {}),
  });

  // Which side failed *first* decides the error: `pipeline` then destroys every stream with
  // that same error, so the listeners below are registered before it and keep the first.
  let failedSide: 'source' | 'target' | undefined;
  let sourceFailure: Error | undefined;
  let timedOut = false as boolean; // set in a callback; `as` stops TS narrowing it to `false`
  let bytesSent = 0;
  body.once('error', (error) => {
    failedSide ??= 'source';
    sourceFailure ??= error;
  });
  request.once('error', () => {
    failedSide ??= 'target';
  });
  // Counted as the bytes flow, beside the pipe rather than in it (no Transform: one stream
  // hop less per chunk). Registered before `pipeline`, so an oversized chunk is refused
  // before it is written; a short source is caught when it ends.
  body.on('data', (chunk: Buffer) => {
    bytesSent += chunk.length;
    if (bytesSent > contentLength) {
      failedSide ??= 'source';
      sourceFailure ??= new Error(`source yielded more than the declared ${contentLength} bytes`);
      body.destroy(sourceFailure);
    }
  });
  body.once('end', () => {
    if (bytesSent !== contentLength) {
      failedSide ??= 'source';
      sourceFailure ??= new Error(`source ended after ${bytesSent} of the declared ${contentLength} bytes`);
      request.destroy(sourceFailure);
    }
  });
  request.setTimeout(idleTimeoutMs, () => {
    timedOut = true;
    request.destroy(new Error(`no progress for ${idleTimeoutMs} ms`));
  });

  const answer = new Promise<{ status: number; text: string; retryAfter: string | undefined }>(
    (resolve, reject) => {
      request.once('error', reject);
      request.once('response', (response) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        response.on('data', (chunk: Buffer) => {
          // Error bodies are small; keep at most 64 KiB of whatever arrives, drain the rest.
          if (kept < 65_536) chunks.push(chunk);
          kept += chunk.length;
        });
        response.once('end', () => {
          resolve({
            status: response.statusCode ?? 0,
            text: Buffer.concat(chunks).toString('utf8'),
            retryAfter: response.headers['retry-after'],
          });
        });
        response.once('error', reject);
      });
    },
  );
  // Settle both: the target may answer (403, 429) before the body is sent, which fails the pipeline.
  const [sent, answered] = await Promise.allSettled([pipeline(body, request), answer]);

  if (answered.status === 'fulfilled') {
    const { status, text, retryAfter } = answered.value;
    if (status >= 200 && status < 300 && sent.status === 'fulfilled') return { bytesSent, status };
    if (status < 200 || status >= 300) {
      throw errorFromAnswer({ what, status, body: text, retryAfter, isUpload: true });
    }
  }
  if (options.signal?.aborted) throw options.signal.reason;
  const failure: unknown =
    sent.status === 'rejected' ? sent.reason : (answered as PromiseRejectedResult).reason;
  if (failedSide === 'source' && sourceFailure) {
    throw new SourceStreamError(
      `${what}: the source failed after ${bytesSent} bytes: ${sourceFailure.message}`,
      {
        cause: sourceFailure,
      },
    );
  }
  if (timedOut) {
    throw new VideoGenNetworkError(`${what}: no progress for ${idleTimeoutMs} ms after ${bytesSent} bytes`, {
      cause: failure,
    });
  }
  throw new VideoGenNetworkError(
    `${what} failed after ${bytesSent} bytes: ${describeNetworkError(failure)}`,
    {
      cause: failure,
    },
  );
}
