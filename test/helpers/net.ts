import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createWebhookVerifier, type VerifiedWebhook } from '#shared/videogen/webhooks';

export interface ReceivedDelivery {
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** What verification made of it, with the endpoint's secret once `setSecret` was called. */
  readonly verified?: VerifiedWebhook;
  readonly verifyError?: string;
  readonly answeredStatus: number;
}

/**
 * A webhook endpoint for tests: records every delivery, verifies it with the project's
 * verifier, and answers with whatever `answer` says (status, delay) so retries can be driven.
 */
export class WebhookReceiver {
  readonly received: ReceivedDelivery[] = [];
  answer: (delivery: { attempt: number; body: string }) => { status: number; delayMs?: number } = () => ({
    status: 204,
  });
  #verify: ReturnType<typeof createWebhookVerifier> | undefined;
  readonly #server: http.Server;
  url = '';

  private constructor() {
    this.#server = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let verified: VerifiedWebhook | undefined;
        let verifyError: string | undefined;
        if (this.#verify) {
          try {
            verified = this.#verify({ headers: request.headers as Record<string, string>, body });
          } catch (error) {
            verifyError = error instanceof Error ? error.message : String(error);
          }
        }
        const attempt = this.received.filter((delivery) => delivery.body === body).length + 1;
        const { status, delayMs = 0 } = this.answer({ attempt, body });
        this.received.push({
          headers: request.headers,
          body,
          answeredStatus: status,
          ...(verified ? { verified } : {}),
          ...(verifyError ? { verifyError } : {}),
        });
        setTimeout(() => {
          if (!response.destroyed) response.writeHead(status).end();
        }, delayMs);
      });
    });
  }

  static async start(): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver();
    await new Promise<void>((resolve) => receiver.#server.listen(0, '127.0.0.1', resolve));
    receiver.url = `http://127.0.0.1:${(receiver.#server.address() as AddressInfo).port}/webhooks/videogen`;
    return receiver;
  }

  setSecret(secret: string | string[]): void {
    this.#verify = createWebhookVerifier(secret);
  }

  /** The verified events, in arrival order. */
  events(): VerifiedWebhook['event'][] {
    return this.received.flatMap((delivery) => (delivery.verified ? [delivery.verified.event] : []));
  }

  /** The types of the verified events of one file, in arrival order. */
  eventTypesOf(fileId: string): string[] {
    return this.events()
      .filter((event) => event.data.file.fileId === fileId)
      .map((event) => event.type);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** Polls `check` until it returns true; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A loopback port nothing listens on (bound, read, released). */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
