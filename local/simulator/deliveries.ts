/**
 * Webhook deliveries as VideoGen sends them: signed with every secret of the endpoint, a
 * receiver slower than the timeout has failed, a failed delivery is retried after each
 * of the retry delays and then given up. Every attempt is recorded.
 */
import type { EventEmitter } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import { signWebhook } from '../../lambdas/shared/videogen/webhooks.ts';
import type { DeliveryRecord, EndpointState } from './records.ts';
import type { BackgroundWork } from './work.ts';

export interface DeliverySettings {
  /** A receiver slower than this has failed the attempt, which is retried. */
  readonly deliveryTimeoutMs: number;
  /** The wait before each retry of a failed delivery; its length is the number of retries. */
  readonly deliveryRetryDelaysMs: readonly number[];
}

/** Which event a delivery carries, to which endpoint. */
export type DeliveryOf = Pick<DeliveryRecord, 'eventId' | 'type' | 'fileId' | 'endpointId'>;

/**
 * POSTs `body` and resolves with the answer's status once its body is read. Node's `http`
 * with kept-alive connections, not `fetch`: undici's fetch cost ~7 ms of the main thread's
 * CPU a file in the pipeline bench, which delivers about four webhooks a file.
 */
function post(
  agents: { readonly http: http.Agent; readonly https: https.Agent },
  url: string,
  headers: Record<string, string>,
  body: string,
  signal: AbortSignal,
): Promise<number> {
  const target = new URL(url);
  const secure = target.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const request = (secure ? https : http).request(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
        agent: secure ? agents.https : agents.http,
        signal,
      },
      (response) => {
        response.on('error', reject);
        response.on('end', () => resolve(response.statusCode ?? 0));
        response.resume();
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

export class WebhookSender {
  readonly deliveries: DeliveryRecord[] = [];
  readonly #agents = {
    http: new http.Agent({ keepAlive: true }),
    https: new https.Agent({ keepAlive: true }),
  };

  constructor(
    private readonly settings: DeliverySettings,
    private readonly work: BackgroundWork,
    private readonly events: EventEmitter,
    private readonly log: (line: string) => void,
  ) {}

  record(record: DeliveryRecord): void {
    this.deliveries.push(record);
    this.events.emit('delivery', record);
    this.log(
      `deliver ${record.type} ${record.fileId} #${record.attempt} -> ${record.outcome}${record.status ? ` ${record.status}` : ''}${record.error ? ` (${record.error})` : ''}${record.exhausted ? ', given up' : ''}`,
    );
  }

  /** Closes the connections kept alive to the endpoints. */
  close(): void {
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }

  async deliver(
    endpoint: EndpointState,
    base: DeliveryOf,
    body: string,
    attempt: number,
    duplicate: boolean,
  ): Promise<void> {
    if (this.work.closed || endpoint.deleted) return;
    const { deliveryTimeoutMs, deliveryRetryDelaysMs } = this.settings;
    const started = Date.now();
    const { signal, release } = this.work.abortable(deliveryTimeoutMs);
    let status: number | undefined;
    let error: string | undefined;
    try {
      status = await post(
        this.#agents,
        endpoint.url,
        {
          'content-type': 'application/json',
          'user-agent': 'VideoGen-Webhooks-Simulator/1',
          ...signWebhook(endpoint.secrets, base.eventId, new Date(), body),
        },
        body,
        signal,
      );
    } catch (caught) {
      error = signal.aborted
        ? `no answer within ${deliveryTimeoutMs} ms`
        : caught instanceof Error
          ? caught.cause instanceof Error
            ? caught.cause.message
            : caught.message
          : String(caught);
    } finally {
      release();
    }
    // The simulator may have closed while the receiver answered (TypeScript keeps the narrowing across the await).
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    if (this.work.closed) return;
    const delivered = status !== undefined && status >= 200 && status < 300;
    const retryDelay = deliveryRetryDelaysMs[attempt - 1];
    this.record({
      ...base,
      attempt,
      at: new Date(started).toISOString(),
      outcome: delivered ? 'delivered' : 'failed',
      ...(status !== undefined ? { status } : {}),
      ...(error !== undefined ? { error } : {}),
      durationMs: Date.now() - started,
      ...(!delivered && retryDelay === undefined ? { exhausted: true } : {}),
      ...(duplicate ? { duplicate: true } : {}),
    });
    if (!delivered && retryDelay !== undefined) {
      this.work.schedule(retryDelay, () => void this.deliver(endpoint, base, body, attempt + 1, duplicate));
    }
  }
}
