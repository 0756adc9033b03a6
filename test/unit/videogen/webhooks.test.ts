import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createRefreshingVerifier,
  createWebhookVerifier,
  SECRET_REFRESH_MS,
  signWebhook,
  WebhookPayloadError,
  WebhookSignatureError,
} from '#shared/videogen/webhooks';

const secret = `whsec_${randomBytes(24).toString('base64')}`;
const otherSecret = `whsec_${randomBytes(24).toString('base64')}`;
const verify = createWebhookVerifier(secret);

const event = {
  id: 'evt_1',
  type: 'file.download_ready',
  createdAt: '2026-11-24T10:00:00.000Z',
  data: {
    file: {
      fileId: 'vg_file_1',
      displayName: 'clip — ünïcode.mp4',
      status: 'READY',
      sources: { downloadUrl: 'https://cdn/x', hlsSource: null },
      futureField: { kept: true },
    },
  },
};
const body = JSON.stringify(event);

function signed(payload = body, options: { secrets?: string[]; at?: Date; id?: string } = {}) {
  return signWebhook(options.secrets ?? [secret], options.id ?? 'msg_1', options.at ?? new Date(), payload);
}

describe('createWebhookVerifier', () => {
  it('accepts a correctly signed delivery and answers the event, unknown fields kept', () => {
    const result = verify({ headers: signed(), body });

    expect(result.webhookId).toBe('msg_1');
    expect(result.event.type).toBe('file.download_ready');
    expect(result.event.data.file).toMatchObject({ fileId: 'vg_file_1', futureField: { kept: true } });
  });

  it('accepts headers in any case, as proxies may rewrite them', () => {
    const headers = Object.fromEntries(
      Object.entries(signed()).map(([name, value]) => [name.toUpperCase(), value]),
    );
    expect(verify({ headers, body }).event.id).toBe('evt_1');
  });

  it('refuses a tampered body', () => {
    const tampered = body.replace('READY', 'FAILED');
    expect(() => verify({ headers: signed(), body: tampered })).toThrow(WebhookSignatureError);
  });

  it('refuses a body re-serialized after signing (whitespace changes the bytes)', () => {
    const pretty = JSON.stringify(event, null, 2);
    expect(() => verify({ headers: signed(), body: pretty })).toThrow('no matching signature found');
  });

  it('refuses a delivery signed with another secret', () => {
    expect(() => verify({ headers: signed(body, { secrets: [otherSecret] }), body })).toThrow(
      WebhookSignatureError,
    );
  });

  it('refuses a changed webhook-id (it is part of what is signed)', () => {
    const headers = { ...signed(), 'webhook-id': 'msg_2' };
    expect(() => verify({ headers, body })).toThrow(WebhookSignatureError);
  });

  it('refuses timestamps outside ±300 s, and accepts ones just inside', () => {
    const at = (seconds: number) => new Date(Date.now() + seconds * 1000);
    expect(() => verify({ headers: signed(body, { at: at(-301) }), body })).toThrow(
      'message timestamp too old',
    );
    expect(() => verify({ headers: signed(body, { at: at(301) }), body })).toThrow(
      'message timestamp too new',
    );
    expect(verify({ headers: signed(body, { at: at(-290) }), body }).event.id).toBe('evt_1');
    expect(verify({ headers: signed(body, { at: at(290) }), body }).event.id).toBe('evt_1');
  });

  it('accepts any of several signatures, as during VideoGen key rotation', () => {
    const headers = signed(body, { secrets: [otherSecret, secret] });
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(verify({ headers, body }).event.id).toBe('evt_1');
  });

  it('accepts deliveries signed with either of two configured secrets, for our own rotation', () => {
    const rotating = createWebhookVerifier([otherSecret, secret]);
    expect(rotating({ headers: signed(body, { secrets: [secret] }), body }).event.id).toBe('evt_1');
    expect(rotating({ headers: signed(body, { secrets: [otherSecret] }), body }).event.id).toBe('evt_1');
  });

  it('decodes base64 bodies (Lambda Function URL isBase64Encoded) before verifying', () => {
    const encoded = Buffer.from(body, 'utf8').toString('base64');
    expect(
      verify({ headers: signed(), body: encoded, isBase64Encoded: true }).event.data.file.displayName,
    ).toBe('clip — ünïcode.mp4');
  });

  it('answers a verification failure, not a crash, for empty, non-base64 and non-UTF-8 bodies', () => {
    expect(() => verify({ headers: signed(''), body: '' })).toThrow('the body is empty');
    expect(() => verify({ headers: signed(), body: undefined })).toThrow(WebhookSignatureError);
    expect(() => verify({ headers: signed(), body: '%%%not base64', isBase64Encoded: true })).toThrow(
      'is not',
    );
    const latin1 = Buffer.from([0x7b, 0xe9, 0x7d]).toString('base64'); // "{é}" in Latin-1
    expect(() => verify({ headers: signed(), body: latin1, isBase64Encoded: true })).toThrow(
      'the body is not UTF-8',
    );
  });

  it('answers a verification failure for missing or malformed headers', () => {
    const { 'webhook-signature': _signature, ...withoutSignature } = signed();
    expect(() => verify({ headers: withoutSignature, body })).toThrow('missing required headers');
    expect(() => verify({ headers: { ...signed(), 'webhook-timestamp': 'yesterday' }, body })).toThrow(
      WebhookSignatureError,
    );
    expect(() => verify({ headers: { ...signed(), 'webhook-signature': 'v2,abc' }, body })).toThrow(
      WebhookSignatureError,
    );
  });

  it('answers WebhookPayloadError for a signed body that is not a VideoGen event', () => {
    expect(() => verify({ headers: signed('not json'), body: 'not json' })).toThrow(WebhookPayloadError);
    const noFile = JSON.stringify({ id: 'evt_2', type: 'file.download_ready', createdAt: 'x', data: {} });
    expect(() => verify({ headers: signed(noFile), body: noFile })).toThrow(/data.file/);
  });

  it('fails fast on a bad secret', () => {
    expect(() => createWebhookVerifier([])).toThrow('at least one secret');
    expect(() => createWebhookVerifier('abc')).toThrow('must start with "whsec_"');
    expect(() => createWebhookVerifier('whsec_')).toThrow(/not valid base64/);
  });
});

describe('createRefreshingVerifier', () => {
  /** Secrets as a cache serves them: `cached` until a forced read, which returns `stored`. */
  function secretStore(cached: string[], stored: string[]) {
    const reads: boolean[] = [];
    return {
      reads,
      read: ({ forceFetch }: { forceFetch: boolean }) => {
        reads.push(forceFetch);
        return Promise.resolve(forceFetch ? stored : cached);
      },
    };
  }

  it('picks up a new secret at once: a delivery signed with it makes one forced read, then verifies', async () => {
    const store = secretStore([secret], [secret, otherSecret]);
    const verifyFresh = createRefreshingVerifier(store.read, () => 1_000_000);
    const result = await verifyFresh({ headers: signed(body, { secrets: [otherSecret] }), body });
    expect(result.webhookId).toBe('msg_1');
    expect(store.reads).toEqual([false, true]);
  });

  it('forged deliveries force a read at most once a minute, then every minute again', async () => {
    let clock = 5_000_000;
    const store = secretStore([secret], [secret]);
    const verifyFresh = createRefreshingVerifier(store.read, () => clock);
    const forged = { headers: signed(body, { secrets: [otherSecret] }), body };
    await expect(verifyFresh(forged)).rejects.toThrow(WebhookSignatureError);
    clock += SECRET_REFRESH_MS - 1;
    await expect(verifyFresh(forged)).rejects.toThrow(WebhookSignatureError);
    expect(store.reads.filter(Boolean)).toHaveLength(1);
    clock += 1;
    await expect(verifyFresh(forged)).rejects.toThrow(WebhookSignatureError);
    expect(store.reads.filter(Boolean)).toHaveLength(2);
  });

  it('a malformed payload is not a signature failure: no forced read', async () => {
    const store = secretStore([secret], [secret]);
    const verifyFresh = createRefreshingVerifier(store.read, () => 0);
    await expect(verifyFresh({ headers: signed('not json'), body: 'not json' })).rejects.toThrow(
      WebhookPayloadError,
    );
    expect(store.reads).toEqual([false]);
  });
});
