/**
 * An AWS JSON-protocol API on the HTTP front (`front.ts`): `X-Amz-Target: Service.Operation`,
 * JSON in and out, errors as `{ "__type", "message" }`, which is how the SDK talks to Step
 * Functions, SQS and Secrets Manager (and SQS's query protocol, translated). Each operation
 * is a function of the parsed body.
 */
import type http from 'node:http';
import type { JudgeCall } from '../iam/judge.ts';
import { readBody, startFront, targetOperation } from './front.ts';

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

/** A JSON-protocol call: its operation and body (translated from the query protocol when it came in that). */
interface JsonCall {
  readonly operation: string;
  readonly body: Record<string, unknown>;
}

export async function startJsonApi(
  operations: Operations,
  contentType = 'application/x-amz-json-1.0',
  judge?: JudgeCall,
  query?: QueryProtocol,
): Promise<JsonApiServer> {
  /** The query protocol, when the request came in it (a form-encoded body). */
  const queryOf = (request: http.IncomingMessage) =>
    (request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')
      ? query
      : undefined;
  const send = (
    request: http.IncomingMessage,
    response: http.ServerResponse,
    status: number,
    body: unknown,
    operation = '',
  ): void => {
    let payload = JSON.stringify(body);
    let type = contentType;
    const protocol = queryOf(request);
    if (protocol) {
      const failure = body as { __type?: string; message?: string };
      payload =
        status === 200
          ? protocol.response(operation, body)
          : protocol.error(failure.__type ?? 'InternalFailure', failure.message ?? '');
      type = 'text/xml';
    }
    response.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(payload) });
    response.end(payload);
  };
  return startFront<JsonCall>({
    readCall: async (request) => {
      const text = (await readBody(request)).toString('utf8');
      const queried = queryOf(request)?.request(new URLSearchParams(text));
      const operation = queried?.operation ?? targetOperation(request);
      if (!operations[operation])
        throw new AwsApiError('UnknownOperationException', `${operation} is not emulated`);
      return { operation, body: queried?.body ?? parseBody(text) };
    },
    ...(judge ? { judge: (call, accessKeyId) => judge(call.operation, call.body, accessKeyId) } : {}),
    handle: async ({ operation, body }, request, response) => {
      const handler = operations[operation];
      send(request, response, 200, (await handler?.(body)) ?? {}, operation);
    },
    answerError: (error, request, response) => {
      if (error instanceof AwsApiError)
        send(request, response, error.status, { __type: error.type, message: error.message });
      else if (error instanceof Error && error.name === 'AccessDeniedException')
        send(request, response, 400, { __type: 'AccessDeniedException', message: error.message });
      else
        send(request, response, 500, {
          __type: 'InternalFailure',
          message: error instanceof Error ? error.message : String(error),
        });
    },
  });
}
