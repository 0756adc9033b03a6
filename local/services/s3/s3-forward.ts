/**
 * The front's way to s3rver: each request forwarded as S3 would take it (a PUT over 5 GiB
 * refused before it is read, an `aws-chunked` body decoded, since s3rver reads neither),
 * and S3's error answers.
 */
import http from 'node:http';
import { finished } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AwsChunkedDecoder, isAwsChunked } from './aws-chunked.ts';
import { xmlEscape } from '../../http/xml.ts';

/** S3's ceiling for one PUT, an object's or a part's: larger objects need a multipart upload. */
export const S3_MAX_PUT_BYTES = 5 * 1024 ** 3;

export function s3Error(
  response: http.ServerResponse,
  method: string,
  status: number,
  code: string,
  message: string,
): void {
  const body =
    method === 'HEAD'
      ? ''
      : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message><RequestId>local</RequestId></Error>`;
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

/** Where a forwarded request goes instead (`path`) and what its successful answer gains (`headers`). */
export interface ForwardChange {
  readonly path?: string;
  readonly headers?: Record<string, string>;
}

/** s3rver: its port, and its request handler (Koa's), which takes a request without a socket of its own. */
export interface S3rverBackend {
  readonly port: number;
  readonly handle: (request: http.IncomingMessage, response: http.ServerResponse) => void;
}

/** s3rver knows one key pair: a function's own key (judged before) is signed as it. */
function asS3rverKey(authorization: string | undefined): string | undefined {
  return authorization?.replace(/Credential=[^/,\s]+\//, 'Credential=S3RVER/');
}

/**
 * Sends the request on to s3rver (at `path` when given), its answer back (with `headers`
 * added to a success); resolves with the answer's status once it is sent.
 */
export function forwardToS3rver(
  backend: S3rverBackend,
  request: http.IncomingMessage,
  response: http.ServerResponse,
  change: ForwardChange = {},
): Promise<{ status: number }> {
  // s3rver takes a PUT of any size; S3 refuses one over 5 GiB before reading it.
  if (request.method === 'PUT' && putLength(request) > S3_MAX_PUT_BYTES) {
    request.resume();
    s3Error(response, 'PUT', 400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size');
    return Promise.resolve({ status: 400 });
  }
  return isAwsChunked(request.headers)
    ? forwardOverHttp(backend.port, request, response, change)
    : handOver(backend, request, response, change);
}

/**
 * The request itself to s3rver's handler: no second HTTP request and answer on loopback,
 * which cost more CPU than s3rver's own work on a small object. The body streams from the
 * client's socket as it is; the answer goes to the client's response.
 */
function handOver(
  backend: S3rverBackend,
  request: http.IncomingMessage,
  response: http.ServerResponse,
  change: ForwardChange,
): Promise<{ status: number }> {
  const authorization = asS3rverKey(request.headers.authorization);
  if (authorization !== undefined) request.headers.authorization = authorization;
  if (change.path !== undefined) request.url = change.path;
  const added = change.headers;
  if (added) {
    // Koa sets its headers one by one and writes them with the first byte (or its end).
    const writeHead = response.writeHead.bind(response) as (...args: unknown[]) => http.ServerResponse;
    response.writeHead = (status: number, ...rest: unknown[]) => {
      if (status < 300) for (const [name, value] of Object.entries(added)) response.setHeader(name, value);
      return writeHead(status, ...rest);
    };
  }
  return new Promise((resolve) => {
    finished(response, () => resolve({ status: response.statusCode }));
    backend.handle(request, response);
  });
}

/** Over loopback HTTP: what needs its body changed on the way (an `aws-chunked` one, decoded). */
function forwardOverHttp(
  port: number,
  request: http.IncomingMessage,
  response: http.ServerResponse,
  change: ForwardChange,
): Promise<{ status: number }> {
  const headers: http.OutgoingHttpHeaders = { ...request.headers };
  const authorization = asS3rverKey(request.headers.authorization);
  if (authorization !== undefined) headers.authorization = authorization;
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
  request.resume();
  return new Promise((resolve) => {
    const upstream = http.request(
      {
        host: '127.0.0.1',
        port,
        method: request.method,
        path: change.path ?? request.url,
        headers,
      },
      (answer) => {
        const status = answer.statusCode ?? 502;
        response.writeHead(status, { ...answer.headers, ...(status < 300 ? change.headers : {}) });
        void pipeline(answer, response)
          .catch(() => undefined)
          .finally(() => resolve({ status }));
      },
    );
    upstream.on('error', () => {
      if (!response.headersSent) response.writeHead(502);
      response.end();
      resolve({ status: 502 });
    });
    const body = chunked ? pipeline(request, new AwsChunkedDecoder(), upstream) : pipeline(request, upstream);
    void body.catch(() => upstream.destroy());
  });
}
