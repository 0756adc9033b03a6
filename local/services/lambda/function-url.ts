/**
 * A Lambda Function URL on loopback: HTTP requests turned into the Function URL event
 * (payload format 2.0: lower-case headers, text bodies as text and the rest base64), the
 * handler's answer turned back into HTTP, with Function URL's 6 MB request limit. With
 * `admit`, it is an HTTP API route instead (the same payload format), throttled as its
 * stage is.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';

const MAX_REQUEST_BYTES = 6 * 1024 * 1024;
const TEXT_TYPES = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded)|[^;]*\+(json|xml))/i;

export interface LocalFunctionUrl {
  readonly url: string;
  close(): Promise<void>;
}

export function functionUrlEvent(
  request: http.IncomingMessage,
  body: Buffer,
  sourceIp: string,
): LambdaFunctionURLEvent {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const isText = body.length > 0 && TEXT_TYPES.test(headers['content-type'] ?? '');
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(url.search ? { queryStringParameters: Object.fromEntries(url.searchParams) } : {}),
    ...(body.length > 0 ? { body: isText ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: body.length > 0 && !isText,
    requestContext: {
      accountId: 'anonymous',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method: request.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: `${now.getTime()}`,
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
  };
}

export async function startFunctionUrl(
  /** `signal` aborts when the caller hangs up before the answer. */
  invoke: (event: LambdaFunctionURLEvent, signal: AbortSignal) => Promise<unknown>,
  options: {
    port?: number;
    /** Whether the public may call the URL (the function's resource policy): throws `AccessDeniedException` when not. */
    authorize?: () => Promise<void>;
    /** A throttle in front (an HTTP API stage's): `false` answers 429 without invoking. */
    admit?: () => boolean;
    /** The one route an HTTP API serves (`POST /`); any other answers 404. @default every request (a Function URL) */
    route?: { readonly method: string; readonly path: string };
  } = {},
): Promise<LocalFunctionUrl> {
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_REQUEST_BYTES) chunks.push(chunk);
    });
    request.on('end', () => {
      if (size > MAX_REQUEST_BYTES) {
        response
          .writeHead(413, { 'content-type': 'application/json' })
          .end('{"Message":"Request must be smaller than 6291456 bytes"}');
        return;
      }
      const { route } = options;
      if (
        route &&
        (request.method !== route.method || new URL(request.url ?? '/', 'http://l').pathname !== route.path)
      ) {
        response.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}');
        return;
      }
      if (options.admit && !options.admit()) {
        // What API Gateway answers past a stage's throttle; the function never sees it.
        response
          .writeHead(429, { 'content-type': 'application/json' })
          .end('{"message":"Too Many Requests"}');
        return;
      }
      void (async () => {
        try {
          await options.authorize?.();
        } catch {
          if (route) {
            // API Gateway, refused by the function's resource policy, answers its caller 500.
            response
              .writeHead(500, { 'content-type': 'application/json' })
              .end('{"message":"Internal Server Error"}');
          } else {
            // What a Function URL answers a caller its resource policy does not allow.
            response.writeHead(403, { 'content-type': 'application/json' }).end('{"Message":"Forbidden"}');
          }
          return;
        }
        try {
          const hungUp = new AbortController();
          response.once('close', () => hungUp.abort());
          const result = (await invoke(
            functionUrlEvent(request, Buffer.concat(chunks), request.socket.remoteAddress ?? '127.0.0.1'),
            hungUp.signal,
          )) as LambdaFunctionURLResult;
          const answer =
            typeof result === 'object' && 'statusCode' in result
              ? result
              : { statusCode: 200, body: JSON.stringify(result) };
          const body =
            answer.body === undefined
              ? ''
              : answer.isBase64Encoded
                ? Buffer.from(answer.body, 'base64')
                : answer.body;
          response.writeHead(answer.statusCode ?? 200, answer.headers as http.OutgoingHttpHeaders).end(body);
        } catch (error) {
          if ((error as Error).name === 'TooManyRequestsException') {
            // A throttled Function URL answers 429; the sender retries.
            response
              .writeHead(429, { 'content-type': 'application/json' })
              .end('{"Message":"Rate Exceeded."}');
            return;
          }
          // Lambda answers 502 when the function itself fails.
          response
            .writeHead(502, { 'content-type': 'application/json' })
            .end('{"Message":"Internal Server Error"}');
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
