import type { SFNClient } from '@aws-sdk/client-sfn';
import { recordObservation } from '#shared/ingest/observe';
import { resumeWorkflow } from '#shared/ingest/resume';
import { findSourceOfFile, type IngestStore } from '#shared/ingest/store';
import { clearTaskToken } from '#shared/ingest/task-token';
import type { WebhookEvent } from '#shared/videogen/contract';
import {
  WebhookPayloadError,
  WebhookSignatureError,
  type RawWebhookRequest,
  type VerifiedWebhook,
} from '#shared/videogen/webhooks';

/** Deliveries larger than this are refused (413): VideoGen's events are a few KiB. */
export const MAX_WEBHOOK_BODY_BYTES = 256 * 1024;

export interface DeliveryDeps {
  readonly store: IngestStore;
  /**
   * The source `pk` a VideoGen file belongs to (its `FILE#` pointer), or undefined for another
   * deployment's file. @default a consistent read of the pointer each time
   */
  readonly findSource?: (fileId: string) => Promise<string | undefined>;
  readonly sfn: SFNClient;
  /** Told when this delivery made the file ready, with the time since its drop (for metrics). */
  readonly onFileReady?: (dropToReadyMs: number) => void;
}

export type DeliveryOutcome =
  | { readonly outcome: 'unknown-file' }
  | {
      readonly outcome: 'recorded';
      readonly status: string;
      readonly changed: boolean;
      readonly resumed: boolean;
    };

/**
 * Applies one verified event to its ingest record, and resumes the workflow when the record
 * is now ready or failed and a workflow is waiting on it. Safe to run any number of times,
 * at once too, which is how a delivery is processed once: a copy of an event already
 * recorded changes nothing and writes nothing (the record keeps each event type's first
 * time, its status only moves forward, an older file object never replaces a newer one),
 * and of copies racing, one write wins and the others, re-reading, find nothing to change.
 * A copy finding the record ready with its token still stored (the first died before
 * answering it) answers it; Step Functions takes a token's answer once.
 */
export async function handleDelivery(
  deps: DeliveryDeps,
  delivery: { readonly webhookId: string; readonly event: WebhookEvent; readonly receivedAt: string },
): Promise<DeliveryOutcome> {
  const { event } = delivery;
  const fileId = event.data.file.fileId;
  const pk = await (deps.findSource ? deps.findSource(fileId) : findSourceOfFile(deps.store, fileId));
  if (!pk) return { outcome: 'unknown-file' };
  const applied = await recordObservation(deps.store, pk, {
    eventType: event.type,
    file: event.data.file,
    at: delivery.receivedAt,
  });
  if (applied.dropToReadyMs !== undefined) deps.onFileReady?.(applied.dropToReadyMs);
  const token = applied.record.taskToken;
  let resumed = false;
  if (token && (applied.ready || applied.failed)) {
    resumed = await resumeWorkflow(deps.sfn, token, {
      outcome: applied.ready ? 'READY' : 'FAILED',
      status: applied.record.status,
    });
    await clearTaskToken(deps.store, pk, token);
  }
  return { outcome: 'recorded', status: applied.record.status, changed: applied.changed, resumed };
}

export interface HttpRequest extends RawWebhookRequest {
  readonly method: string;
}

export interface HttpResponse {
  readonly statusCode: number;
  readonly headers?: Record<string, string>;
  readonly body: string;
}

export interface RespondDeps {
  readonly verify: (request: RawWebhookRequest) => Promise<VerifiedWebhook>;
  readonly process: (delivery: {
    webhookId: string;
    event: WebhookEvent;
    receivedAt: string;
  }) => Promise<DeliveryOutcome>;
  readonly now: () => string;
  /** Told how each request ended, for metrics and logs. */
  readonly onResult?: (result: { statusCode: number; reason: string; error?: unknown }) => void;
}

function answer(
  statusCode: number,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

/**
 * The HTTP contract of the webhook endpoint: 2xx once the event is recorded (or is for a
 * file this deployment did not create); 4xx, changing nothing, for what must not be
 * retried (wrong method, too large, forged, malformed); 5xx for what VideoGen should
 * deliver again. Never an error's details in the body.
 */
export async function respond(deps: RespondDeps, request: HttpRequest): Promise<HttpResponse> {
  const done = (response: HttpResponse, reason: string, error?: unknown): HttpResponse => {
    deps.onResult?.({ statusCode: response.statusCode, reason, ...(error === undefined ? {} : { error }) });
    return response;
  };
  if (request.method.toUpperCase() !== 'POST') {
    return done(answer(405, { error: 'method not allowed' }, { allow: 'POST' }), 'method');
  }
  const size =
    request.body === undefined
      ? 0
      : Buffer.byteLength(request.body, request.isBase64Encoded ? 'base64' : 'utf8');
  if (size > MAX_WEBHOOK_BODY_BYTES) return done(answer(413, { error: 'payload too large' }), 'too-large');
  let verified: VerifiedWebhook;
  try {
    verified = await deps.verify(request);
  } catch (error) {
    if (error instanceof WebhookSignatureError)
      return done(answer(401, { error: 'invalid signature' }), 'signature', error);
    if (error instanceof WebhookPayloadError)
      return done(answer(400, { error: 'invalid payload' }), 'payload', error);
    throw error;
  }
  try {
    const result = await deps.process({
      webhookId: verified.webhookId,
      event: verified.event,
      receivedAt: deps.now(),
    });
    return done(answer(200, { received: true }), result.outcome);
  } catch (error) {
    return done(answer(500, { error: 'internal error' }), 'error', error);
  }
}
