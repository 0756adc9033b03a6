/**
 * An IAM gate before an AWS JSON-protocol endpoint (DynamoDB's, whose emulator runs in a
 * process of its own): reads the call, lets the judge refuse it as AWS would
 * (`AccessDeniedException`, 400), and forwards what passes unchanged.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JudgeCall } from './judge.ts';
import { signingAccessKey } from './sigv4.ts';

export interface JsonGate {
  readonly endpoint: string;
  close(): Promise<void>;
}

export async function startJsonGate(upstream: string, judge: JudgeCall): Promise<JsonGate> {
  const target = new URL(upstream);
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const operation =
        String(request.headers['x-amz-target'] ?? '')
          .split('.')
          .pop() ?? '';
      let parsed: Record<string, unknown> = {};
      try {
        parsed = body.length ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
      } catch {
        // Malformed JSON is the service's to answer: forwarded as it is.
      }
      judge(operation, parsed, signingAccessKey(request.headers.authorization)).then(
        () => {
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
            if (!response.headersSent) response.writeHead(500);
            response.end(JSON.stringify({ __type: 'InternalServerError', message: error.message }));
          });
          forwarded.end(body);
        },
        (error: unknown) => {
          const denied = error instanceof Error && error.name === 'AccessDeniedException';
          const text = JSON.stringify({
            __type: denied ? 'com.amazon.coral.service#AccessDeniedException' : 'InternalServerError',
            message: error instanceof Error ? error.message : String(error),
          });
          response
            .writeHead(denied ? 400 : 500, {
              'content-type': 'application/x-amz-json-1.0',
              'content-length': Buffer.byteLength(text),
            })
            .end(text);
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
