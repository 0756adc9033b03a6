import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { webhookEventSchema, type WebhookEvent } from './contract.ts';
import { summarizeIssues } from './client.ts';

/** The signature, its headers or the body's encoding do not check out: answer 401/400, change nothing. */
export class WebhookSignatureError extends Error {
  override readonly name = 'WebhookSignatureError';
}

/** Signed correctly, but the body is not a VideoGen event: answer 400, change nothing. */
export class WebhookPayloadError extends Error {
  override readonly name = 'WebhookPayloadError';
}

export interface RawWebhookRequest {
  /** Header names in any case (API Gateway and Function URLs lower-case them). */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The body exactly as received: signatures cover the raw bytes, never a re-serialization. */
  readonly body: string | undefined;
  /** API Gateway (payload 2.0) and Function URLs base64-encode bodies they do not consider text. */
  readonly isBase64Encoded?: boolean;
}

export interface VerifiedWebhook {
  /** `webhook-id`: the same on every retry of one message, so it is the dedupe key. */
  readonly webhookId: string;
  /** `webhook-timestamp`, in unix seconds. */
  readonly timestamp: number;
  readonly event: WebhookEvent;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Turns the received body into the exact text that was signed, or says why it cannot be. */
function decodeBody(body: string | undefined, isBase64Encoded: boolean): string {
  if (body === undefined || body === '') throw new WebhookSignatureError('the body is empty');
  if (!isBase64Encoded) return body;
  if (!BASE64.test(body)) throw new WebhookSignatureError('the body is marked base64 but is not');
  try {
    return strictUtf8.decode(Buffer.from(body, 'base64'));
  } catch {
    throw new WebhookSignatureError('the body is not UTF-8');
  }
}

/**
 * Builds a verifier for Standard Webhooks deliveries (https://www.standardwebhooks.com):
 * HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<raw body>`, a ±300 s timestamp
 * window, and any of several space-separated `v1,` signatures (VideoGen's key rotation).
 *
 * `secrets` are `whsec_…` strings. Pass two while *you* rotate (the new one and the old):
 * a delivery signed with either passes. Bad secrets fail here, at cold start, not per call.
 */
export function createWebhookVerifier(
  secrets: string | readonly string[],
): (request: RawWebhookRequest) => VerifiedWebhook {
  const list = typeof secrets === 'string' ? [secrets] : secrets;
  if (list.length === 0) throw new Error('createWebhookVerifier needs at least one secret');
  const webhooks = list.map((secret, index) => {
    if (!secret.startsWith('whsec_'))
      throw new Error(`webhook secret #${index + 1} must start with "whsec_"`);
    try {
      return new Webhook(secret);
    } catch (error) {
      throw new Error(`webhook secret #${index + 1} is not valid base64 after "whsec_"`, { cause: error });
    }
  });

  return (request) => {
    const payload = decodeBody(request.body, request.isBase64Encoded ?? false);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined) headers[name.toLowerCase()] = value;
    }
    let verified = false;
    for (const webhook of webhooks) {
      try {
        webhook.verify(payload, headers, { jsonParse: false });
        verified = true;
        break;
      } catch (error) {
        if (!(error instanceof WebhookVerificationError)) throw error;
        // Header and timestamp problems are the same under every secret: say so at once.
        if (error.message !== 'No matching signature found') {
          throw new WebhookSignatureError(error.message.toLowerCase(), { cause: error });
        }
      }
    }
    if (!verified) throw new WebhookSignatureError('no matching signature found');

    let json: unknown;
    try {
      json = JSON.parse(payload);
    } catch {
      throw new WebhookPayloadError('the body is not JSON');
    }
    const parsed = webhookEventSchema.safeParse(json);
    if (!parsed.success) {
      throw new WebhookPayloadError(`the body is not a VideoGen event: ${summarizeIssues(parsed.error)}`);
    }
    return {
      webhookId: headers['webhook-id'] ?? '',
      timestamp: Number(headers['webhook-timestamp']),
      event: parsed.data,
    };
  };
}

/** How often, at most, a signature failure makes the verifier read its secrets afresh. */
export const SECRET_REFRESH_MS = 60_000;

/**
 * A verifier over secrets kept elsewhere (Secrets Manager, read through a cache): every
 * endpoint still registered, so deliveries to an old URL verify while an update replaces
 * it. After a signature failure it reads the secrets afresh, once a minute at most, so a
 * re-registration's new secret is picked up at once while forged requests cannot make
 * every call a read of the store.
 */
export function createRefreshingVerifier(
  readSecrets: (options: { forceFetch: boolean }) => Promise<readonly string[]>,
  now: () => number = Date.now,
): (request: RawWebhookRequest) => Promise<VerifiedWebhook> {
  let verifier: { secrets: string; verify: (request: RawWebhookRequest) => VerifiedWebhook } | undefined;
  let lastForcedRefresh = Number.NEGATIVE_INFINITY;
  const verifierFor = (list: readonly string[]) => {
    const key = list.join(' ');
    if (verifier?.secrets !== key) verifier = { secrets: key, verify: createWebhookVerifier(list) };
    return verifier;
  };
  return async (request) => {
    const current = verifierFor(await readSecrets({ forceFetch: false }));
    try {
      return current.verify(request);
    } catch (error) {
      if (!(error instanceof WebhookSignatureError) || now() - lastForcedRefresh < SECRET_REFRESH_MS)
        throw error;
      lastForcedRefresh = now();
      const fresh = verifierFor(await readSecrets({ forceFetch: true }));
      if (fresh === current) throw error;
      return fresh.verify(request);
    }
  };
}

/**
 * Signs a delivery the way VideoGen does; used by the simulator and by tests.
 * Several secrets give several space-separated signatures, as during a key rotation.
 */
export function signWebhook(
  secrets: string | readonly string[],
  webhookId: string,
  timestamp: Date,
  body: string,
): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  const list = typeof secrets === 'string' ? [secrets] : secrets;
  return {
    'webhook-id': webhookId,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    'webhook-signature': list.map((secret) => new Webhook(secret).sign(webhookId, timestamp, body)).join(' '),
  };
}
