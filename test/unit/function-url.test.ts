import http from 'node:http';
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { startFunctionUrl, type LocalFunctionUrl } from '#local/runtime/function-url';

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
