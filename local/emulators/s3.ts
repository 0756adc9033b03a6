/**
 * S3 on loopback (s3rver) with the drop bucket, and its object-created notifications
 * turned into what EventBridge delivers in AWS: "Object Created" events. A thin front
 * decodes `aws-chunked` uploads (what `aws s3 cp` and the SDKs send by default now)
 * before s3rver sees them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import type { ObjectCreatedEvent } from '../../lambdas/starter/starter.ts';
import { signingAccessKey } from '../iam/sigv4.ts';
import { AwsChunkedDecoder, isAwsChunked } from './aws-chunked.ts';

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

/** S3's ceiling for one PUT, an object's or a part's: larger objects need a multipart upload. */
export const S3_MAX_PUT_BYTES = 5 * 1024 ** 3;

function s3Error(
  response: http.ServerResponse,
  method: string,
  status: number,
  code: string,
  message: string,
): void {
  const body =
    method === 'HEAD'
      ? ''
      : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`)}</Message><RequestId>local</RequestId></Error>`;
  response
    .writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) })
    .end(body);
}

/** The bytes a PUT carries (an `aws-chunked` body declares its decoded length). */
function putLength(request: http.IncomingMessage): number {
  const declared = isAwsChunked(request.headers)
    ? request.headers['x-amz-decoded-content-length']
    : request.headers['content-length'];
  return Number(declared ?? 0);
}

export async function startS3(options: LocalS3Options): Promise<LocalS3> {
  const directory = options.directory ?? (await mkdtemp(path.join(tmpdir(), 'videogen-s3-')));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    allowMismatchedSignatures: true,
    vhostBuckets: false,
    configureBuckets: [{ name: options.bucket }],
  });
  // s3rver's sequencer is the clock in ms; S3's grows with every write to a key. A counter keeps two writes apart.
  let sequence = 0;
  server.on('event', ({ Records }) => {
    for (const record of Records) {
      if (!record.eventName.startsWith('ObjectCreated:')) continue;
      sequence += 1;
      options.onObjectCreated({
        'detail-type': 'Object Created',
        source: 'aws.s3',
        time: record.eventTime,
        detail: {
          bucket: { name: record.s3.bucket.name },
          object: {
            key: record.s3.object.key,
            ...(record.s3.object.size === undefined ? {} : { size: record.s3.object.size }),
            ...(record.s3.object.eTag === undefined ? {} : { etag: record.s3.object.eTag }),
            sequencer: sequence.toString(16).padStart(16, '0').toUpperCase(),
          },
        },
      });
    }
  });
  const backend = await server.run();
  const front = http.createServer((request, response) => {
    const accessKeyId = signingAccessKey(request.headers.authorization, request.url);
    if (!options.judge) return proxy(request, response);
    request.pause();
    options.judge(request.method ?? 'GET', request.url ?? '/', accessKeyId).then(
      () => proxy(request, response),
      (error: unknown) => {
        request.resume();
        if (error instanceof Error && error.name === 'AccessDeniedException') {
          s3Error(response, request.method ?? 'GET', 403, 'AccessDenied', error.message);
        } else {
          response.writeHead(500).end();
        }
      },
    );
  });
  const proxy = (request: http.IncomingMessage, response: http.ServerResponse): void => {
    // s3rver takes a PUT of any size; S3 refuses one over 5 GiB before reading it.
    if (request.method === 'PUT' && putLength(request) > S3_MAX_PUT_BYTES) {
      request.resume();
      s3Error(
        response,
        'PUT',
        400,
        'EntityTooLarge',
        'Your proposed upload exceeds the maximum allowed size',
      );
      return;
    }
    const headers: http.OutgoingHttpHeaders = { ...request.headers };
    // s3rver knows one key pair: a function's own key (judged above) is signed as it.
    if (typeof headers.authorization === 'string') {
      headers.authorization = headers.authorization.replace(/Credential=[^/,\s]+\//, 'Credential=S3RVER/');
    }
    const chunked = isAwsChunked(request.headers);
    if (chunked) {
      const encodings = (request.headers['content-encoding'] ?? '')
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part !== '' && part !== 'aws-chunked');
      if (encodings.length > 0) headers['content-encoding'] = encodings.join(', ');
      else delete headers['content-encoding'];
      headers['content-length'] = String(request.headers['x-amz-decoded-content-length'] ?? '');
      headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      delete headers['x-amz-decoded-content-length'];
      delete headers['x-amz-trailer'];
      delete headers['transfer-encoding'];
    }
    const upstream = http.request(
      { host: '127.0.0.1', port: backend.port, method: request.method, path: request.url, headers },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        void pipeline(answer, response).catch(() => undefined);
      },
    );
    upstream.on('error', () => {
      if (!response.headersSent) response.writeHead(502);
      response.end();
    });
    const body = chunked ? pipeline(request, new AwsChunkedDecoder(), upstream) : pipeline(request, upstream);
    void body.catch(() => upstream.destroy());
  };
  try {
    await new Promise<void>((resolve, reject) => {
      front.once('error', reject);
      front.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
  } catch (error) {
    // A taken port: nothing of this emulator may outlive the failed start.
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
      if (!options.directory) await rm(directory, { recursive: true, force: true });
    },
  };
}
