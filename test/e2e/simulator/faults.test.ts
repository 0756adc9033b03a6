import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { VideoGenClient, uploadToPresignedUrl, WEBHOOK_EVENT_TYPES } from '#shared/videogen/index';
import { VideoGenSimulator, type SimulatorOptions } from '#local/simulator/simulator';
import { FaultInjector, parseFaultSpec, type FaultRule } from '#local/simulator/faults';
import { mp4, png } from '#local/media';
import { WebhookReceiver } from '../../helpers/net.ts';

describe('parseFaultSpec', () => {
  it('reads kind, the call it applies on, and its options', () => {
    expect(parseFaultSpec('rate_limit@create:rate=0.2,retryAfterSeconds=2')).toEqual({
      fault: 'rate_limit',
      on: 'create',
      rate: 0.2,
      retryAfterSeconds: 2,
    });
    expect(parseFaultSpec('drop_delivery@file.download_ready:nth=3')).toEqual({
      fault: 'drop_delivery',
      on: 'file.download_ready',
      nth: 3,
    });
    expect(parseFaultSpec('fail_analysis:displayName=42')).toEqual({
      fault: 'fail_analysis',
      displayName: '42',
    });
  });

  it('says what is wrong with a bad spec', () => {
    expect(() => parseFaultSpec('explode')).toThrow(/fault "explode": fault: Invalid option/);
    expect(() => parseFaultSpec('rate_limit@upload')).toThrow(
      'rate_limit applies on one of create, get, put, register, unregister; got "upload"',
    );
    expect(() => parseFaultSpec('expire_url@put')).toThrow('expire_url takes no "on"');
    expect(() => parseFaultSpec('slow:delay')).toThrow('"delay" is not key=value');
    expect(() => parseFaultSpec('slow:rate=2')).toThrow(/rate/);
  });
});

describe('FaultInjector', () => {
  const call = { on: 'create' };

  it('fires on the Nth matching call only', () => {
    const injector = new FaultInjector([{ fault: 'server_error', nth: 3 }]);
    const fired = [1, 2, 3, 4, 5].map(() => injector.fire('api', call).length);
    expect(fired).toEqual([0, 0, 1, 0, 0]);
  });

  it('fires at a rate, the same way for the same seed', () => {
    const rule: FaultRule = { fault: 'rate_limit', rate: 0.3 };
    const run = (seed: number): string => {
      const injector = new FaultInjector([rule], seed);
      return Array.from({ length: 1000 }, () => (injector.fire('api', call).length ? 'x' : '.')).join('');
    };
    const first = run(42);
    expect(first).toBe(run(42));
    expect(first).not.toBe(run(43));
    const share = first.split('').filter((mark) => mark === 'x').length / 1000;
    expect(share).toBeGreaterThan(0.25);
    expect(share).toBeLessThan(0.35);
  });

  it('stops after `times`, targets one file, and counts what it injected', () => {
    const injector = new FaultInjector([
      { fault: 'server_error', times: 2 },
      { fault: 'fail_analysis', displayName: 'b.mp4' },
    ]);
    expect([1, 2, 3].map(() => injector.fire('api', call).length)).toEqual([1, 1, 0]);
    expect(injector.fire('file', { displayName: 'a.mp4' })).toEqual([]);
    expect(injector.fire('file', { displayName: 'b.mp4' })).toHaveLength(1);
    expect(injector.injected()).toEqual({ server_error: 2, fail_analysis: 1 });
  });
});

describe('simulator faults end to end', () => {
  let sim: VideoGenSimulator;
  let receiver: WebhookReceiver;
  let client: VideoGenClient;

  async function setUp(faults: FaultRule[], options: SimulatorOptions = {}): Promise<void> {
    sim = await VideoGenSimulator.start({
      processingMs: 80,
      playbackMs: 40,
      analysisMs: 40,
      deliveryRetryDelaysMs: [20],
      seed: 7,
      faults,
      ...options,
    });
    receiver = await WebhookReceiver.start();
    client = new VideoGenClient({ baseUrl: sim.url, apiKey: 'k' });
    const endpoint = await client.createWebhookEndpoint({
      url: receiver.url,
      events: [...WEBHOOK_EVENT_TYPES],
    });
    receiver.setSecret(endpoint.secret);
  }

  async function ingest(bytes: Buffer, displayName: string): Promise<string> {
    const { fileId, uploadUrl } = await client.createFile({ displayName });
    await uploadToPresignedUrl({ url: uploadUrl, body: Readable.from([bytes]), contentLength: bytes.length });
    await sim.settled();
    return fileId;
  }

  afterEach(async () => {
    await sim.close();
    await receiver.close();
  });

  it('slow: answers after the delay', async () => {
    await setUp([{ fault: 'slow', on: 'create', delayMs: 150 }]);
    const started = Date.now();
    await client.createFile({ displayName: 'a' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(sim.requests()[1]).toMatchObject({ op: 'create', status: 201, fault: 'slow' });
  });

  it('rate_limit and server_error on the Nth call of one file only', async () => {
    await setUp([
      { fault: 'rate_limit', on: 'get', nth: 2, displayName: 'target.png', retryAfterSeconds: 4 },
      { fault: 'server_error', on: 'get', nth: 3, displayName: 'target.png', status: 502 },
    ]);
    const target = await client.createFile({ displayName: 'target.png' });
    const other = await client.createFile({ displayName: 'other.png' });
    const outcomes: string[] = [];
    for (let call = 0; call < 4; call += 1) {
      outcomes.push(
        await client.getFile(target.fileId).then(
          () => 'ok',
          (error: unknown) => (error as Error).name,
        ),
      );
      await client.getFile(other.fileId);
    }
    expect(outcomes).toEqual(['ok', 'VideoGenRateLimitedError', 'VideoGenServerError', 'ok']);
    expect(sim.injected()).toEqual({ rate_limit: 1, server_error: 1 });
  });

  it('drop_delivery: the event happens, but its delivery never arrives', async () => {
    await setUp([{ fault: 'drop_delivery', on: 'file.download_ready' }]);
    const fileId = await ingest(png(), 'dropped.png');

    expect(sim.file(fileId)?.events).toContain('file.download_ready');
    expect(receiver.eventTypesOf(fileId)).toEqual(['file.upload.completed', 'file.analysis_completed']);
    expect(sim.deliveries().find((delivery) => delivery.type === 'file.download_ready')).toMatchObject({
      outcome: 'dropped',
    });
  });

  it('duplicate_delivery: the same message arrives twice with one webhook-id', async () => {
    await setUp([{ fault: 'duplicate_delivery', on: 'file.upload.completed' }]);
    const fileId = await ingest(png(), 'twice.png');

    const copies = receiver.received.filter(
      (delivery) => delivery.verified?.event.type === 'file.upload.completed',
    );
    expect(copies).toHaveLength(2);
    expect(new Set(copies.map((delivery) => delivery.verified?.webhookId)).size).toBe(1);
    expect(receiver.eventTypesOf(fileId).filter((type) => type === 'file.upload.completed')).toHaveLength(2);
  });

  it('delay_delivery: the event arrives after later ones', async () => {
    await setUp([{ fault: 'delay_delivery', on: 'file.upload.completed', delayMs: 200 }]);
    const fileId = await ingest(mp4(), 'late.mp4');

    expect(receiver.eventTypesOf(fileId)).toEqual([
      'file.playback_ready',
      'file.download_ready',
      'file.analysis_completed',
      'file.upload.completed',
    ]);
  });

  it('reorder_delivery: the event arrives right after the next one', async () => {
    await setUp([{ fault: 'reorder_delivery', on: 'file.playback_ready' }]);
    const fileId = await ingest(mp4(), 'swapped.mp4');

    expect(receiver.eventTypesOf(fileId)).toEqual([
      'file.upload.completed',
      'file.download_ready',
      'file.playback_ready',
      'file.analysis_completed',
    ]);
    // The payload is the state when the event happened, not when it arrived.
    const playback = receiver.events().find((event) => event.type === 'file.playback_ready');
    expect(playback?.data.file.status).toBe('PROCESSING');
  });

  it('fail_processing: the file ends FAILED with no ready event', async () => {
    await setUp([{ fault: 'fail_processing', displayName: 'bad.mp4' }]);
    const fileId = await ingest(mp4(), 'bad.mp4');

    expect((await client.getFile(fileId)).status).toBe('FAILED');
    expect(receiver.eventTypesOf(fileId)).toEqual(['file.upload.completed']);
  });

  it('fail_analysis: the file is READY and analysis_failed fires', async () => {
    await setUp([{ fault: 'fail_analysis' }]);
    const fileId = await ingest(png(), 'unanalyzable.png');

    expect(receiver.eventTypesOf(fileId)).toEqual([
      'file.upload.completed',
      'file.download_ready',
      'file.analysis_failed',
    ]);
    expect(await client.getFile(fileId)).toMatchObject({ status: 'READY', analysis: { status: 'FAILED' } });
  });

  it('expire_url on the first PUT only: the second PUT to the same URL goes through', async () => {
    await setUp([{ fault: 'expire_url', nth: 1 }]);
    const { fileId, uploadUrl } = await client.createFile({ displayName: 'expiring.png' });
    const bytes = png();
    await expect(
      uploadToPresignedUrl({ url: uploadUrl, body: Readable.from([bytes]), contentLength: bytes.length }),
    ).rejects.toMatchObject({
      name: 'UploadUrlExpiredError',
    });
    await uploadToPresignedUrl({ url: uploadUrl, body: Readable.from([bytes]), contentLength: bytes.length });
    await sim.settled();
    expect(sim.file(fileId)?.file.status).toBe('READY');
  });
});
