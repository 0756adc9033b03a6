/**
 * A loopback server for an AWS JSON-protocol API (`X-Amz-Target: Service.Operation`,
 * JSON in and out, errors as `{ "__type", "message" }`), which is how the SDK talks to
 * Step Functions and Secrets Manager. Each operation is a function of the parsed body.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JudgeCall } from '../iam/judge.ts';
import { signingAccessKey } from '../iam/sigv4.ts';

export type { JudgeCall } from '../iam/judge.ts';

/** Thrown by an operation: answered as the AWS error the SDK maps to its exception class. */
export class AwsApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** The request's JSON; a body that is not JSON is the caller's error, as AWS answers it. */
function parseBody(text: string): Record<string, unknown> {
  if (!text) return {};
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new AwsApiError('SerializationException', 'the request body is not valid JSON');
  }
}

export type Operations = Record<string, (body: Record<string, unknown>) => unknown>;

/**
 * An older wire protocol of the same API (SQS's query protocol: form-encoded in, XML out),
 * translated to and from the JSON operations.
 */
export interface QueryProtocol {
  request(params: URLSearchParams): { operation: string; body: Record<string, unknown> };
  response(operation: string, result: unknown): string;
  error(type: string, message: string): string;
}

export interface JsonApiServer {
  readonly endpoint: string;
  close(): Promise<void>;
}

export async function startJsonApi(
  operations: Operations,
  contentType = 'application/x-amz-json-1.0',
  judge?: JudgeCall,
  query?: QueryProtocol,
): Promise<JsonApiServer> {
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const form = (request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
      const queryProtocol = form ? query : undefined;
      const queryRequest = queryProtocol?.request(new URLSearchParams(text));
      const send = (status: number, body: unknown): void => {
        let payload = JSON.stringify(body);
        let type = contentType;
        if (queryProtocol && queryRequest) {
          const failure = body as { __type?: string; message?: string };
          payload =
            status === 200
              ? queryProtocol.response(queryRequest.operation, body)
              : queryProtocol.error(failure.__type ?? 'InternalFailure', failure.message ?? '');
          type = 'text/xml';
        }
        response.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(payload) });
        response.end(payload);
      };
      const operation =
        queryRequest?.operation ??
        String(request.headers['x-amz-target'] ?? '')
          .split('.')
          .pop() ??
        '';
      const handler = operations[operation];
      if (!handler)
        return send(400, { __type: 'UnknownOperationException', message: `${operation} is not emulated` });
      void (async () => {
        try {
          const body = queryRequest?.body ?? parseBody(text);
          await judge?.(operation, body, signingAccessKey(request.headers.authorization));
          send(200, (await handler(body)) ?? {});
        } catch (error) {
          if (error instanceof AwsApiError)
            send(error.status, { __type: error.type, message: error.message });
          else if (error instanceof Error && error.name === 'AccessDeniedException')
            send(400, { __type: 'AccessDeniedException', message: error.message });
          else
            send(500, {
              __type: 'InternalFailure',
              message: error instanceof Error ? error.message : String(error),
            });
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
