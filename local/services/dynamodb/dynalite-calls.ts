/**
 * dynalite's own request handler, called in this process without a socket: the front, the
 * transactions and the stream images reach the tables through it. dynalite exports only an
 * HTTP server; through a loopback connection, and the AWS SDK for the front's own reads
 * and writes, each call cost more CPU than dynalite's work on it (measured: about a quarter
 * of this process's time went to the SDK's middleware and signing), so the handler gets a
 * request and a response of the few members it uses instead.
 */
import { EventEmitter } from 'node:events';
import type http from 'node:http';
import type { FrontAnswer } from './dynamodb-stream-capture.ts';

type Json = Record<string, unknown>;

/** What dynalite's handler reads of a request: the DynamoDB JSON protocol's headers, and a signature's shape (it checks no signature). */
const REQUEST_HEADERS = {
  'content-type': 'application/x-amz-json-1.0',
  authorization:
    'AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=local',
  'x-amz-date': '20260101T000000Z',
};

/** A DynamoDB error answer, as the SDK would raise it: named by its `__type`. */
export class DynamoDBCallError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

type RequestHandler = (request: http.IncomingMessage, response: http.ServerResponse) => void;

export class DynaliteCalls {
  readonly #handle: RequestHandler;

  /** `server`: what `dynalite()` returns; its request listener is the handler. */
  constructor(server: http.Server) {
    const [handle] = server.listeners('request') as RequestHandler[];
    if (!handle) throw new Error('dynalite’s server has no request handler');
    this.#handle = handle;
  }

  /** One operation with its JSON body, answered as dynalite answers it over HTTP. */
  call(operation: string, body: Buffer | string): Promise<FrontAnswer> {
    return new Promise((resolve) => {
      const request = Object.assign(new EventEmitter(), {
        method: 'POST',
        url: '/',
        headers: { ...REQUEST_HEADERS, 'x-amz-target': `DynamoDB_20120810.${operation}` },
      });
      const headers: Record<string, string> = {};
      const response = {
        statusCode: 200,
        contentType: '',
        setHeader(name: string, value: string | number) {
          headers[name.toLowerCase()] = String(value);
        },
        end(answer?: string) {
          resolve({ status: response.statusCode, headers, body: answer ?? '' });
        },
      };
      this.#handle(request as unknown as http.IncomingMessage, response as unknown as http.ServerResponse);
      request.emit('data', Buffer.isBuffer(body) ? body : Buffer.from(body));
      request.emit('end');
    });
  }

  /** One operation, its answer parsed; an error answer is thrown by its name (`ConditionalCheckFailedException`, …). */
  async send<T = Json>(operation: string, input: Json): Promise<T> {
    const answer = await this.call(operation, JSON.stringify(input));
    const parsed = JSON.parse(answer.body.toString() || '{}') as Json;
    if (answer.status !== 200) {
      const type = typeof parsed.__type === 'string' ? parsed.__type : 'InternalServerError';
      const message = parsed.message ?? parsed.Message;
      throw new DynamoDBCallError(
        type.slice(type.indexOf('#') + 1),
        typeof message === 'string' ? message : '',
      );
    }
    return parsed as T;
  }
}
