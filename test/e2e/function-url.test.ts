import http from 'node:http';
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { startFunctionUrl, type LocalFunctionUrl } from '#local/services/lambda/function-url';
import { TokenBucket } from '#local/services/api-gateway/token-bucket';
import { EnvironmentsBusyError } from '#local/services/lambda/environments';

describe('the local Function URL', () => {
  let server: LocalFunctionUrl | undefined;
  afterEach(async () => {
    await server?.close();
  });

  async function send(
    body: Buffer,
    headers: Record<string, string>,
    method = 'POST',
  ): Promise<{ event: LambdaFunctionURLEvent; status: number; text: string }> {
    let seen: LambdaFunctionURLEvent | undefined;
    server = await startFunctionUrl((event) => {
      seen = event;
      return Promise.resolve({ statusCode: 202, headers: { 'x-answer': 'yes' }, body: '{"ok":true}' });
    });
    const response = await fetch(`${server.url}hooks?a=1`, {
      method,
      headers,
      ...(method === 'GET' ? {} : { body }),
    });
    if (!seen) throw new Error('no event');
    return { event: seen, status: response.status, text: await response.text() };
  }

  it('passes a JSON body as text with lower-case headers, and answers with the handler’s response', async () => {
    const { event, status, text } = await send(Buffer.from('{"é":1}'), {
      'Content-Type': 'application/json',
      'Webhook-Id': 'msg_1',
    });
    expect(event).toMatchObject({
      version: '2.0',
      rawPath: '/hooks',
      rawQueryString: 'a=1',
      body: '{"é":1}',
      isBase64Encoded: false,
      headers: { 'content-type': 'application/json', 'webhook-id': 'msg_1' },
      requestContext: { http: { method: 'POST', path: '/hooks' } },
    });
    expect([status, text]).toEqual([202, '{"ok":true}']);
  });

  it('base64-encodes a body that is not text, as Lambda does', async () => {
    const bytes = Buffer.from([0xff, 0x00, 0x7b]);
    const { event } = await send(bytes, { 'content-type': 'application/octet-stream' });
    expect(event).toMatchObject({ isBase64Encoded: true, body: bytes.toString('base64') });
  });

  it('answers 413 over 6 MB without invoking the function', async () => {
    let invoked = false;
    server = await startFunctionUrl(() => {
      invoked = true;
      return Promise.resolve({ statusCode: 200 });
    });
    const status = await new Promise<number>((resolve) => {
      const request = http.request(server?.url ?? '', { method: 'POST' }, (response) =>
        resolve(response.statusCode ?? 0),
      );
      request.end(Buffer.alloc(6 * 1024 * 1024 + 1));
    });
    expect(status).toBe(413);
    expect(invoked).toBe(false);
  });
});

describe('the local HTTP API route in front of a function', () => {
  it('serves its one route, answers others 404, and past its stage throttle 429, without invoking', async () => {
    let invocations = 0;
    const bucket = new TokenBucket({ rateLimit: 1, burstLimit: 2, now: () => 0 });
    const api = await startFunctionUrl(
      () => {
        invocations += 1;
        return Promise.resolve({ statusCode: 204 });
      },
      { route: { method: 'POST', path: '/' }, admit: () => bucket.take() },
    );
    try {
      const post = (path = '') => fetch(`${api.url}${path}`, { method: 'POST', body: '{}' });
      expect((await fetch(api.url)).status).toBe(404);
      expect((await post('other')).status).toBe(404);
      expect([(await post()).status, (await post()).status, (await post()).status]).toEqual([204, 204, 429]);
      expect(invocations).toBe(2);
      expect(bucket.refused).toBe(1);
    } finally {
      await api.close();
    }
  });

  it('answers 429 when Lambda refuses the invocation (every local environment busy past the wait a caller gets)', async () => {
    const api = await startFunctionUrl(() => Promise.reject(new EnvironmentsBusyError('webhook', 1500)), {
      route: { method: 'POST', path: '/' },
    });
    try {
      const response = await fetch(api.url, { method: 'POST', body: '{}' });
      expect(response.status).toBe(429);
    } finally {
      await api.close();
    }
  });
});

describe('the stage throttle', () => {
  it('holds burstLimit at once and refills rateLimit a second, as API Gateway’s token bucket does', () => {
    let now = 0;
    const bucket = new TokenBucket({ rateLimit: 10, burstLimit: 5, now: () => now });
    const takes = (count: number) =>
      Array.from({ length: count }, () => bucket.take()).filter(Boolean).length;
    expect(takes(8)).toBe(5);
    now += 100; // a tenth of a second: one token
    expect(takes(3)).toBe(1);
    now += 10_000; // never more than the burst
    expect(takes(20)).toBe(5);
    expect(bucket.refused).toBe(3 + 2 + 15);
  });
});
