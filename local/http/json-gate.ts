/**
 * An IAM gate before an AWS JSON-protocol endpoint (DynamoDB's, whose emulator runs in a
 * process of its own), on the HTTP front (`front.ts`): reads the call, lets the
 * judge refuse it as AWS would (`AccessDeniedException`, 400), and forwards what passes
 * unchanged.
 */
import http from 'node:http';
import { readBody, startFront, targetOperation, type HttpFront } from './front.ts';
import type { JudgeCall } from '../iam/judge.ts';

export type JsonGate = HttpFront;

/** A call on its way through: its operation, its body as judged, and its bytes as sent. */
interface GatedCall {
  readonly operation: string;
  readonly parsed: Record<string, unknown>;
  readonly bytes: Buffer;
}

export async function startJsonGate(upstream: string, judge: JudgeCall): Promise<JsonGate> {
  const target = new URL(upstream);
  const agent = new http.Agent({ keepAlive: true });
  const answerJson = (response: http.ServerResponse, status: number, type: string, message: string) => {
    const text = JSON.stringify({ __type: type, message });
    response
      .writeHead(status, {
        'content-type': 'application/x-amz-json-1.0',
        'content-length': Buffer.byteLength(text),
      })
      .end(text);
  };
  return startFront<GatedCall>(
    {
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
        const forwarded = http.request(
          {
            host: target.hostname,
            port: target.port,
            method: request.method,
            path: request.url,
            headers: { ...request.headers, host: target.host },
            agent,
          },
          (answer) => {
            response.writeHead(answer.statusCode ?? 500, answer.headers);
            answer.pipe(response);
          },
        );
        forwarded.on('error', (error) => {
          if (!response.headersSent) answerJson(response, 500, 'InternalServerError', error.message);
          else response.end();
        });
        forwarded.end(call.bytes);
      },
      answerError: (error, _request, response) => {
        const message = error instanceof Error ? error.message : String(error);
        if (error instanceof Error && error.name === 'AccessDeniedException')
          answerJson(response, 400, 'com.amazon.coral.service#AccessDeniedException', message);
        else answerJson(response, 500, 'InternalServerError', message);
      },
    },
    { onClose: () => agent.destroy() },
  );
}
