import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  VideoGenAuthError,
  VideoGenClient,
  VideoGenNetworkError,
  VideoGenNotFoundError,
  VideoGenRateLimitedError,
  VideoGenResponseError,
  VideoGenServerError,
  VideoGenValidationError,
  parseRetryAfter,
} from '#shared/videogen/index';
import { VideoGenSimulator } from '#local/simulator/simulator';
import type { TextRequest, Transport } from '#shared/videogen/http';
import { closedPort } from '../../helpers/net.ts';

const API_KEY = 'vg_test_key_do_not_log';

describe('VideoGenClient against the simulator', () => {
  let sim: VideoGenSimulator;
  let client: VideoGenClient;

  beforeAll(async () => {
    sim = await VideoGenSimulator.start({ apiKey: API_KEY });
    client = new VideoGenClient({ baseUrl: sim.url, apiKey: API_KEY, timeoutMs: 2000 });
  });
  afterEach(() => {
    sim.faults.clear();
  });
  afterAll(async () => {
    await sim.close();
  });

  it('creates a pending file and answers its presigned upload URL', async () => {
    const created = await client.createFile({ displayName: 'photo.png', type: 'IMAGE' });

    expect(created.fileId).toMatch(/^vg_file_/);
    expect(new URL(created.uploadUrl).searchParams.get('signature')).toBeTruthy();
    const file = await client.getFile(created.fileId);
    expect(file).toMatchObject({
      fileId: created.fileId,
      displayName: 'photo.png',
      type: 'IMAGE',
      isTemporary: false,
      status: 'PENDING_UPLOAD',
      analysis: { status: 'PENDING' },
    });
  });

  it('sends isTemporary and leaves type to inference when omitted', async () => {
    const created = await client.createFile({ displayName: 'clip', isTemporary: true });

    const file = await client.getFile(created.fileId);
    expect(file).toMatchObject({ type: null, isTemporary: true, analysis: { status: 'SKIPPED' } });
  });

  it('refuses a request the API would reject before sending it', async () => {
    await expect(client.createFile({ displayName: '' })).rejects.toThrow(VideoGenValidationError);
    await expect(client.createFile({ displayName: 'x', type: 'PDF' as never })).rejects.toThrow(/type/);
    expect(sim.requests().filter((request) => request.status === 400)).toHaveLength(0);
  });

  it('maps the API validation answer (400) to VideoGenValidationError with its code', async () => {
    const raw = await fetch(`${sim.url}/v1/files/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'VIDEO' }),
    });
    expect(raw.status).toBe(400);
    expect(await raw.json()).toEqual({
      error: { code: 'validation_error', message: 'displayName is required' },
    });

    const badType = await fetch(`${sim.url}/v1/files/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({ displayName: 'a', type: 'GIF' }),
    });
    expect(badType.status).toBe(400);
  });

  it('answers VideoGenAuthError for a wrong key, without the key in the message', async () => {
    const wrong = new VideoGenClient({ baseUrl: sim.url, apiKey: 'not-the-key' });

    const error = await wrong.createFile({ displayName: 'a' }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(VideoGenAuthError);
    expect(error).toMatchObject({
      name: 'VideoGenAuthError',
      status: 401,
      code: 'unauthorized',
      retryable: false,
    });
    expect((error as Error).message).not.toContain('not-the-key');
  });

  it('answers 401 to a request without a bearer key', async () => {
    const response = await fetch(`${sim.url}/v1/files/upload`, {
      method: 'POST',
      body: '{"displayName":"a"}',
    });
    expect(response.status).toBe(401);
  });

  it('answers VideoGenNotFoundError for an unknown file', async () => {
    await expect(client.getFile('vg_file_missing')).rejects.toMatchObject({
      name: 'VideoGenNotFoundError',
      status: 404,
      code: 'not_found',
    });
    await expect(client.getFile('vg_file_missing')).rejects.toBeInstanceOf(VideoGenNotFoundError);
  });

  it('answers VideoGenRateLimitedError with Retry-After seconds on 429', async () => {
    sim.faults.add({ fault: 'rate_limit', on: 'create', retryAfterSeconds: 7 });

    const error = await client.createFile({ displayName: 'a' }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(VideoGenRateLimitedError);
    expect(error).toMatchObject({ retryAfterSeconds: 7, status: 429, retryable: true });
  });

  it('answers VideoGenServerError on 5xx', async () => {
    sim.faults.add({ fault: 'server_error', on: 'get', status: 503 });
    const { fileId } = await client.createFile({ displayName: 'a' });

    await expect(client.getFile(fileId)).rejects.toMatchObject({
      name: 'VideoGenServerError',
      status: 503,
      retryable: true,
    });
    await expect(client.getFile(fileId)).rejects.toBeInstanceOf(VideoGenServerError);
  });

  it('times out a slow answer with VideoGenNetworkError', async () => {
    sim.faults.add({ fault: 'slow', on: 'get', delayMs: 500 });
    const { fileId } = await client.createFile({ displayName: 'a' });
    const impatient = new VideoGenClient({ baseUrl: sim.url, apiKey: API_KEY, timeoutMs: 100 });

    await expect(impatient.getFile(fileId)).rejects.toThrow(/timed out after 100 ms/);
    await expect(impatient.getFile(fileId)).rejects.toBeInstanceOf(VideoGenNetworkError);
  });

  it("rejects with the caller's abort reason when the signal aborts", async () => {
    sim.faults.add({ fault: 'slow', on: 'get', delayMs: 500 });
    const { fileId } = await client.createFile({ displayName: 'a' });
    const controller = new AbortController();
    const pending = client.getFile(fileId, { signal: controller.signal });
    controller.abort(new Error('shutting down'));

    await expect(pending).rejects.toThrow('shutting down');
  });

  it('times out an answer whose body stops half-way, and sends again on a fresh connection', async () => {
    let requests = 0;
    const stalling = http.createServer((_request, response) => {
      requests += 1;
      response.writeHead(200, { 'content-type': 'application/json' });
      if (requests === 1) response.write('{"fileId":');
      else response.end(JSON.stringify({ fileId: 'vg_file_s', status: 'READY' }));
    });
    await new Promise<void>((resolve) => stalling.listen(0, '127.0.0.1', () => resolve()));
    try {
      const impatient = new VideoGenClient({
        baseUrl: `http://127.0.0.1:${(stalling.address() as AddressInfo).port}`,
        apiKey: API_KEY,
        timeoutMs: 200,
      });
      await expect(impatient.getFile('vg_file_s')).rejects.toThrow(/timed out after 200 ms/);
      await expect(impatient.getFile('vg_file_s')).resolves.toMatchObject({ fileId: 'vg_file_s' });
    } finally {
      stalling.closeAllConnections();
      stalling.close();
    }
  });

  it('answers VideoGenNetworkError when nothing listens', async () => {
    const nowhere = new VideoGenClient({
      baseUrl: `http://127.0.0.1:${await closedPort()}`,
      apiKey: API_KEY,
    });
    await expect(nowhere.getFile('vg_file_x')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('registers and deletes a webhook endpoint', async () => {
    const endpoint = await client.createWebhookEndpoint({
      url: 'https://example.com/hook',
      events: ['file.upload.completed', 'file.download_ready'],
    });

    expect(endpoint).toMatchObject({
      id: expect.stringMatching(/^vg_whep_/),
      url: 'https://example.com/hook',
    });
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/=]+$/);
    await client.deleteWebhookEndpoint(endpoint.id);
    expect(sim.endpoints().find((known) => known.id === endpoint.id)?.deleted).toBe(true);
    await expect(client.deleteWebhookEndpoint(endpoint.id)).rejects.toBeInstanceOf(VideoGenNotFoundError);
  });

  it('refuses to register an endpoint for an unknown event', async () => {
    await expect(
      client.createWebhookEndpoint({ url: 'https://example.com/hook', events: ['file.deleted' as never] }),
    ).rejects.toBeInstanceOf(VideoGenValidationError);
  });
});

describe('VideoGenClient response handling', () => {
  function answering(status: number, body: unknown, headers: Record<string, string> = {}): Transport {
    const answered: Record<string, string> = { 'content-type': 'application/json', ...headers };
    return () =>
      Promise.resolve({
        status,
        header: (name) => answered[name] ?? null,
        text: typeof body === 'string' ? body : JSON.stringify(body),
      });
  }

  it('keeps unknown fields and tolerates missing optional ones', async () => {
    const client = new VideoGenClient({
      apiKey: 'k',
      transport: answering(200, {
        fileId: 'vg_file_1',
        status: 'READY',
        thumbnailUrl: 'https://t',
        sources: { downloadUrl: 'https://d', dash: 'x' },
      }),
    });

    const file = await client.getFile('vg_file_1');

    expect(file).toEqual({
      fileId: 'vg_file_1',
      status: 'READY',
      thumbnailUrl: 'https://t',
      sources: { downloadUrl: 'https://d', dash: 'x' },
    });
  });

  it('answers VideoGenResponseError for a body outside the contract', async () => {
    const client = new VideoGenClient({
      apiKey: 'k',
      transport: answering(200, { fileId: 'vg_file_1', status: 'EXPLODED' }),
    });
    await expect(client.getFile('vg_file_1')).rejects.toBeInstanceOf(VideoGenResponseError);

    const notJson = new VideoGenClient({ apiKey: 'k', transport: answering(201, '<html>') });
    await expect(notJson.createFile({ displayName: 'a' })).rejects.toThrow(/not JSON/);
  });

  it('sends the bearer key and JSON to the configured base URL', async () => {
    const seen: { url: string; init: TextRequest }[] = [];
    const client = new VideoGenClient({
      apiKey: 'secret-key',
      baseUrl: 'https://api.example.test/',
      transport: (url, init) => {
        seen.push({ url, init });
        return answering(201, { fileId: 'vg_file_2', uploadUrl: 'https://bucket.example/x?sig=1' })(
          url,
          init,
        );
      },
    });

    await client.createFile({ displayName: 'a', type: 'VIDEO', isTemporary: true });

    expect(seen[0]?.url).toBe('https://api.example.test/v1/files/upload');
    expect(seen[0]?.init.headers).toMatchObject({
      authorization: 'Bearer secret-key',
      'content-type': 'application/json',
    });
    expect(JSON.parse(seen[0]?.init.body ?? '')).toEqual({
      displayName: 'a',
      type: 'VIDEO',
      isTemporary: true,
    });
  });

  it('fails fast on bad configuration', () => {
    expect(() => new VideoGenClient({ apiKey: '' })).toThrow('VideoGenClient needs a non-empty apiKey');
    expect(() => new VideoGenClient({ apiKey: 'k', baseUrl: 'ftp://x' })).toThrow(/must be an http\(s\) URL/);
  });

  it('parses Retry-After as seconds or an HTTP date, defaulting to 1', () => {
    expect(parseRetryAfter('12')).toBe(12);
    expect(
      parseRetryAfter(new Date(Date.UTC(2030, 0, 1, 0, 0, 30)).toUTCString(), Date.UTC(2030, 0, 1)),
    ).toBe(30);
    expect(parseRetryAfter(null)).toBe(1);
    expect(parseRetryAfter('soon')).toBe(1);
  });
});
