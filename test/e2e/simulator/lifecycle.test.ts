import http from 'node:http';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  VideoGenClient,
  uploadToPresignedUrl,
  WEBHOOK_EVENT_TYPES,
  type CreateFileRequest,
} from '#shared/videogen/index';
import { VideoGenSimulator, type SimulatorOptions } from '#local/simulator/simulator';
import { mp4, png, text, wav } from '#local/media';
import { WebhookReceiver, waitFor } from '../../helpers/net.ts';

const FAST: SimulatorOptions = {
  processingMs: 60,
  playbackMs: 30,
  analysisMs: 30,
  deliveryRetryDelaysMs: [30, 30],
  deliveryTimeoutMs: 500,
};

let sim: VideoGenSimulator;
let receiver: WebhookReceiver;
let client: VideoGenClient;

async function setUp(
  options: SimulatorOptions = {},
  events: readonly string[] = WEBHOOK_EVENT_TYPES,
): Promise<string> {
  sim = await VideoGenSimulator.start({ ...FAST, ...options });
  receiver = await WebhookReceiver.start();
  client = new VideoGenClient({ baseUrl: sim.url, apiKey: 'any-key' });
  const endpoint = await client.createWebhookEndpoint({ url: receiver.url, events: events as never });
  receiver.setSecret(endpoint.secret);
  return endpoint.id;
}

async function ingest(bytes: Buffer, request: CreateFileRequest): Promise<string> {
  const { fileId, uploadUrl } = await client.createFile(request);
  await uploadToPresignedUrl({ url: uploadUrl, body: Readable.from([bytes]), contentLength: bytes.length });
  return fileId;
}

afterEach(async () => {
  await sim.close();
  await receiver.close();
});

describe('simulator lifecycle', () => {
  beforeEach(async () => {
    await setUp();
  });

  it('takes an image from PENDING_UPLOAD through PROCESSING to READY, type inferred from its bytes', async () => {
    const fileId = await ingest(png(), { displayName: 'photo.png' });
    expect((await client.getFile(fileId)).status).toBe('PROCESSING');

    await sim.settled();

    expect(receiver.eventTypesOf(fileId)).toEqual([
      'file.upload.completed',
      'file.download_ready',
      'file.analysis_completed',
    ]);
    const file = await client.getFile(fileId);
    expect(file).toMatchObject({
      type: 'IMAGE',
      status: 'READY',
      sources: { hlsSource: null, downloadUrl: expect.stringContaining(fileId) },
      analysis: { status: 'COMPLETED', description: expect.any(String), transcript: null },
    });
    expect(receiver.received.every((delivery) => delivery.verified !== undefined)).toBe(true);
  });

  it('fires playback_ready before download_ready for video, with HLS and a transcript', async () => {
    const fileId = await ingest(mp4(), { displayName: 'clip.mp4' });
    await sim.settled();

    expect(receiver.eventTypesOf(fileId)).toEqual([
      'file.upload.completed',
      'file.playback_ready',
      'file.download_ready',
      'file.analysis_completed',
    ]);
    const playback = receiver.events().find((event) => event.type === 'file.playback_ready');
    expect(playback?.data.file).toMatchObject({
      status: 'PROCESSING',
      type: 'VIDEO',
      sources: { hlsSource: expect.any(String), downloadUrl: null },
    });
    expect((await client.getFile(fileId)).analysis).toMatchObject({ transcript: 'Simulated transcript.' });
  });

  it('fires playback_ready for audio too', async () => {
    const fileId = await ingest(wav(), { displayName: 'voice.wav' });
    await sim.settled();
    expect(receiver.eventTypesOf(fileId)).toContain('file.playback_ready');
    expect((await client.getFile(fileId)).type).toBe('AUDIO');
  });

  it('never analyzes a temporary file', async () => {
    const fileId = await ingest(mp4(), { displayName: 'tmp.mp4', isTemporary: true });
    await sim.settled();

    expect(receiver.eventTypesOf(fileId)).toEqual([
      'file.upload.completed',
      'file.playback_ready',
      'file.download_ready',
    ]);
    expect((await client.getFile(fileId)).analysis).toMatchObject({ status: 'SKIPPED' });
  });

  it('keeps a declared type, and fails processing of untyped bytes that are not media', async () => {
    const declared = await ingest(text(), { displayName: 'notes.txt', type: 'VIDEO' });
    const undeclared = await ingest(text(), { displayName: 'notes2.txt' });
    await sim.settled();

    expect((await client.getFile(declared)).status).toBe('READY');
    expect((await client.getFile(undeclared)).status).toBe('FAILED');
    expect(receiver.eventTypesOf(undeclared)).toEqual(['file.upload.completed']);
  });

  it('records every file with its bytes and hash, one PUT each', async () => {
    const bytes = png(4, 4);
    const fileId = await ingest(bytes, { displayName: 'a.png' });
    await sim.settled();

    const record = sim.file(fileId);
    expect(record).toMatchObject({
      puts: 1,
      received: { bytes: bytes.length, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    expect(record?.events).toEqual(receiver.eventTypesOf(fileId));
    expect(
      sim
        .deliveries()
        .filter((delivery) => delivery.fileId === fileId)
        .every((delivery) => delivery.outcome === 'delivered'),
    ).toBe(true);
  });

  it('signs every delivery per Standard Webhooks: the same webhook-id on a retry, a fresh timestamp', async () => {
    receiver.answer = ({ attempt }) => ({ status: attempt === 1 ? 500 : 200 });
    const fileId = await ingest(png(), { displayName: 'retry.png' });
    await sim.settled();

    const completed = receiver.received.filter(
      (delivery) => delivery.verified?.event.type === 'file.upload.completed',
    );
    expect(completed).toHaveLength(2);
    expect(completed[0]?.headers['webhook-id']).toBe(completed[1]?.headers['webhook-id']);
    expect(completed[0]?.answeredStatus).toBe(500);
    const attempts = sim
      .deliveries()
      .filter((delivery) => delivery.fileId === fileId && delivery.type === 'file.upload.completed');
    expect(attempts.map((delivery) => [delivery.attempt, delivery.outcome, delivery.status])).toEqual([
      [1, 'failed', 500],
      [2, 'delivered', 200],
    ]);
  });

  it('retries a receiver slower than the delivery timeout, and gives up after the last retry', async () => {
    receiver.answer = () => ({ status: 200, delayMs: 700 });
    const fileId = await ingest(png(), { displayName: 'slow.png', isTemporary: true });
    await sim.settled();

    const attempts = sim
      .deliveries()
      .filter((delivery) => delivery.fileId === fileId && delivery.type === 'file.upload.completed');
    expect(attempts).toHaveLength(3);
    expect(
      attempts.every(
        (delivery) => delivery.outcome === 'failed' && delivery.error === 'no answer within 500 ms',
      ),
    ).toBe(true);
    expect(attempts[2]?.exhausted).toBe(true);
  });
});

describe('simulator endpoints and the presigned PUT', () => {
  it('delivers only the events an endpoint subscribed to, and nothing once it is deleted', async () => {
    const endpointId = await setUp({}, ['file.download_ready']);
    const first = await ingest(png(), { displayName: 'one.png' });
    await sim.settled();
    expect(receiver.eventTypesOf(first)).toEqual(['file.download_ready']);

    await client.deleteWebhookEndpoint(endpointId);
    const second = await ingest(png(), { displayName: 'two.png' });
    await sim.settled();
    expect(receiver.eventTypesOf(second)).toEqual([]);
  });

  it('signs with old and new secrets after a rotation', async () => {
    const endpointId = await setUp();
    const newSecret = sim.rotateEndpointSecret(endpointId);
    receiver.setSecret(newSecret);
    await ingest(png(), { displayName: 'rotated.png', isTemporary: true });
    await sim.settled();

    expect(receiver.received.length).toBeGreaterThan(0);
    expect(
      receiver.received.every(
        (delivery) =>
          delivery.verified && String(delivery.headers['webhook-signature']).split(' ').length === 2,
      ),
    ).toBe(true);
  });

  it('answers 411 to a chunked PUT, 403 to a tampered URL, and records an incomplete body', async () => {
    await setUp();
    const { fileId, uploadUrl } = await client.createFile({ displayName: 'raw.png' });
    const put = (url: string, headers: http.OutgoingHttpHeaders, body: Buffer, endEarly = false) =>
      new Promise<number>((resolve) => {
        const request = http.request(url, { method: 'PUT', headers }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        request.on('error', () => resolve(0));
        request.write(body);
        if (endEarly) setTimeout(() => request.destroy(), 20);
        else request.end();
      });

    expect(await put(uploadUrl, { 'transfer-encoding': 'chunked' }, png())).toBe(411);
    expect(
      await put(
        uploadUrl.replace(/signature=(.)/, (_, first: string) => `signature=${first === '0' ? '1' : '0'}`),
        { 'content-length': 3 },
        Buffer.from('abc'),
      ),
    ).toBe(403);
    await put(uploadUrl, { 'content-length': 1000 }, Buffer.alloc(10), true);
    await waitFor('the incomplete upload', () =>
      sim.uploads().some((upload) => upload.outcome === 'incomplete'),
    );

    expect(sim.uploads().map((upload) => [upload.status, upload.outcome, upload.reason])).toEqual([
      [411, 'rejected', 'MissingContentLength'],
      [403, 'rejected', 'SignatureDoesNotMatch'],
      [400, 'incomplete', 'connection closed after 10 of 1000 bytes'],
    ]);
    expect(sim.file(fileId)?.file.status).toBe('PENDING_UPLOAD');
  });

  it('serves its state and takes fault rules over HTTP', async () => {
    await setUp();
    const added = await fetch(`${sim.url}/_sim/faults`, {
      method: 'POST',
      body: JSON.stringify({ fault: 'rate_limit', on: 'create', nth: 1 }),
    });
    expect(added.status).toBe(200);
    const refused = await fetch(`${sim.url}/_sim/faults`, {
      method: 'POST',
      body: JSON.stringify({ fault: 'explode' }),
    });
    expect(refused.status).toBe(400);

    await expect(client.createFile({ displayName: 'a' })).rejects.toMatchObject({ status: 429 });
    await client.createFile({ displayName: 'a' });
    const state = (await (await fetch(`${sim.url}/_sim/state`)).json()) as {
      files: unknown[];
      requests: { op: string; status: number }[];
      injected: unknown;
    };
    expect(state.files).toHaveLength(1);
    expect(
      state.requests.filter((request) => request.op === 'create').map((request) => request.status),
    ).toEqual([429, 201]);
    expect(state.injected).toEqual({ rate_limit: 1 });
  });
});
