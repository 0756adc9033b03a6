/**
 * The one HTTP front every local AWS endpoint has, in the order AWS takes a request: what
 * the call is (its protocol reads it), who makes it (the access key its SigV4 signature
 * names), the IAM decision, then the service's handling. An error at any step is that
 * request's answer, in the service's own protocol (S3's XML, JSON's `__type`, SQS's query
 * XML): nothing a client sends may end the emulator. Each service brings its protocol:
 * `json-api.ts` (in-process JSON operations), `json-gate.ts` (a JSON service in another
 * process), `services/s3/s3-front.ts`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { signingAccessKey } from './sigv4.ts';

export interface ServiceProtocol<Call> {
  /** What the request asks, read from it (a protocol that streams bodies reads only the head). */
  readCall(request: http.IncomingMessage): Promise<Call> | Call;
  /** The IAM decision on the call: throws an error named `AccessDeniedException` to refuse it. */
  judge?(call: Call, accessKeyId: string | undefined): Promise<void>;
  /** Answers a call IAM allowed. */
  handle(call: Call, request: http.IncomingMessage, response: http.ServerResponse): Promise<void> | void;
  /** Answers a failed step as the service would (`call` is absent when reading it failed). */
  answerError(
    error: unknown,
    request: http.IncomingMessage,
    response: http.ServerResponse,
    call: Call | undefined,
  ): void;
}

export interface HttpFront {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string;
  close(): Promise<void>;
}

/** The request's body, whole. */
export async function readBody(request: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The operation a JSON-protocol request names (`X-Amz-Target: Service.Operation`). */
export function targetOperation(request: http.IncomingMessage): string {
  return (
    String(request.headers['x-amz-target'] ?? '')
      .split('.')
      .pop() ?? ''
  );
}

/** Serves `protocol` on loopback (`port`, or any free one); a taken port rejects. */
export async function startFront<Call>(
  protocol: ServiceProtocol<Call>,
  options: { readonly port?: number; readonly onClose?: () => void } = {},
): Promise<HttpFront> {
  const server = http.createServer((request, response) => {
    let call: Call | undefined;
    void (async () => {
      call = await protocol.readCall(request);
      await protocol.judge?.(call, signingAccessKey(request.headers.authorization, request.url));
      await protocol.handle(call, request, response);
    })().catch((error: unknown) => {
      request.resume();
      if (response.headersSent) return void response.destroy();
      protocol.answerError(error, request, response, call);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      options.onClose?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
