/**
 * The front's way to s3rver: each request handed to s3rver's own handler as S3 would take
 * it (a PUT over 5 GiB refused before it is read, an `aws-chunked` body decoded, since
 * s3rver reads neither), and S3's error answers.
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import { finished } from 'node:stream';
import { AwsChunkedDecoder, isAwsChunked } from './aws-chunked.ts';
import { xmlEscape } from '../../http/xml.ts';
import type S3ErrorClass from 's3rver/lib/models/error';

// s3rver's modules are CommonJS without an exports map: required, as `s3-store.ts` does.
const S3Error = createRequire(import.meta.url)('s3rver/lib/models/error') as typeof S3ErrorClass;

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

/** s3rver: its request handler (Koa's), which takes a request without a socket of its own. */
export interface S3rverBackend {
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
  return handOver(
    backend,
    isAwsChunked(request.headers) ? decodedRequest(request, response) : request,
    response,
    change,
  );
}

/**
 * An `aws-chunked` request as s3rver takes a plain one: its body decoded as it streams in,
 * under the headers a plain upload of it would carry (s3rver would store the framing as the
 * object's bytes, and `aws-chunked` as its encoding). Koa reads of a request only its
 * headers, method, URL, HTTP version and socket, and the body as a stream.
 */
function decodedRequest(request: http.IncomingMessage, response: http.ServerResponse): http.IncomingMessage {
  const headers: http.IncomingHttpHeaders = { ...request.headers };
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
  // S3 answers a body shorter than its framing said 400 IncompleteBody, which no client retries.
  const body = new AwsChunkedDecoder({ error: (message) => new S3Error('IncompleteBody', message) });
  request.pipe(body);
  // A broken framing fails s3rver's write, which answers it; the rest of the body is read and
  // dropped, so the client still gets that answer.
  const drain = () => {
    request.unpipe(body);
    request.resume();
  };
  body.once('error', drain);
  // An answer sent before the body was read (no such bucket): the rest is read and dropped, as
  // Node drops a body nobody read, or the connection would stall the client's next request.
  finished(response, () => {
    if (!request.readableEnded) drain();
  });
  request.once('error', (error) => body.destroy(error));
  return Object.assign(body, {
    headers,
    method: request.method,
    url: request.url,
    httpVersion: request.httpVersion,
    httpVersionMajor: request.httpVersionMajor,
    httpVersionMinor: request.httpVersionMinor,
    socket: request.socket,
  }) as unknown as http.IncomingMessage;
}

/**
 * The request itself to s3rver's handler: no second HTTP request and answer on loopback,
 * which cost more CPU than s3rver's own work on a small object. The body streams from the
 * client's socket (through the decoder, for an `aws-chunked` one); the answer goes to the
 * client's response.
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
