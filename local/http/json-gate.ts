/**
 * An IAM gate before an AWS JSON-protocol endpoint (DynamoDB's, whose emulator runs in a
 * process of its own), on the HTTP front (`front.ts`): reads the call, lets the
 * judge refuse it as AWS would (`AccessDeniedException`, 400), and forwards what passes
 * unchanged to `forward` (the emulator's own channel, not another HTTP hop).
 */
import type http from 'node:http';
import { readBody, startFront, targetOperation, type HttpFront } from './front.ts';
import type { JudgeCall } from '../iam/judge.ts';

export type JsonGate = HttpFront;

/** A call on its way through: its operation, its body as judged, and its bytes as sent. */
interface GatedCall {
  readonly operation: string;
  readonly parsed: Record<string, unknown>;
  readonly bytes: Buffer;
}

/** The endpoint's answer to a call: what the gate sends back as it is. */
export interface ForwardedAnswer {
  readonly status: number;
  readonly headers?: Record<string, string | string[] | undefined>;
  readonly body: Buffer | string;
}

/** Sends an endpoint's answer as it is, with its own length (the one it came with may be stale). */
export function sendJsonAnswer(response: http.ServerResponse, answer: ForwardedAnswer): void {
  const { 'content-length': _length, 'transfer-encoding': _encoding, ...headers } = answer.headers ?? {};
  response
    .writeHead(answer.status, {
      'content-type': 'application/x-amz-json-1.0',
      ...headers,
      'content-length': Buffer.byteLength(answer.body),
    })
    .end(answer.body);
}

/** `forward`: the endpoint, called with the call's `X-Amz-Target` and its body. */
export async function startJsonGate(
  forward: (target: string, body: Buffer) => Promise<ForwardedAnswer>,
  judge: JudgeCall,
): Promise<JsonGate> {
  const answerJson = (response: http.ServerResponse, status: number, type: string, message: string) => {
    const text = JSON.stringify({ __type: type, message });
    response
      .writeHead(status, {
        'content-type': 'application/x-amz-json-1.0',
        'content-length': Buffer.byteLength(text),
      })
      .end(text);
  };
  return startFront<GatedCall>({
    readCall: async (request) => {
      const bytes = await readBody(request);
      let parsed: Record<string, unknown> = {};
      try {
        parsed = bytes.length ? (JSON.parse(bytes.toString('utf8')) as Record<string, unknown>) : {};
      } catch {
        // Malformed JSON is the service's to answer: forwarded as it is.
      }
      return { operation: targetOperation(request), parsed, bytes };
    },
    judge: (call, accessKeyId) => judge(call.operation, call.parsed, accessKeyId),
    handle: (call, request, response) => {
      forward(String(request.headers['x-amz-target'] ?? ''), call.bytes).then(
        (answer) => sendJsonAnswer(response, answer),
        (error: unknown) => {
          answerJson(
            response,
            500,
            'InternalServerError',
            error instanceof Error ? error.message : String(error),
          );
        },
      );
    },
    answerError: (error, _request, response) => {
      const message = error instanceof Error ? error.message : String(error);
      if (error instanceof Error && error.name === 'AccessDeniedException')
        answerJson(response, 400, 'com.amazon.coral.service#AccessDeniedException', message);
      else answerJson(response, 500, 'InternalServerError', message);
    },
  });
}
