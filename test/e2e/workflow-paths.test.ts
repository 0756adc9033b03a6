import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '#local/runtime/runtime';
import type { Readiness } from '#shared/config';
import { mp4, png } from '#local/media';
import { captureLogs, leakedSecrets } from '../helpers/log-capture.ts';
import { ingestAll, receivedBy, sha256, startRuntime } from '../helpers/runtime.ts';

function executionOf(runtime: LocalRuntime, key: string) {
  const prefix =
    key
      .split('/')
      .pop()
      ?.replace(/[^A-Za-z0-9_-]/g, '_') ?? key;
  return runtime.stepFunctions.executions().find((execution) => execution.name.startsWith(`${prefix}-`));
}

describe('readiness settings', () => {
  let runtime: LocalRuntime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  const LIFECYCLE = [
    'file.upload.completed',
    'file.playback_ready',
    'file.download_ready',
    'file.analysis_completed',
  ];

  it.each<[Readiness, string]>([
    ['upload', 'file.upload.completed'],
    ['playback', 'file.playback_ready'],
    ['download', 'file.download_ready'],
    ['analysis', 'file.analysis_completed'],
  ])('%s: the workflow ends at %s', async (readiness, event) => {
    runtime = await startRuntime({
      readiness,
      // Analysis a while after the rest, so a workflow that ended at its readiness is seen READY.
      simulator: { processingMs: 300, playbackMs: 150, analysisMs: 2000 },
    });

    const records = await ingestAll(runtime, { 'clip.mp4': { body: mp4() } });
    const atTheEnd = records['clip.mp4'];
    expect(atTheEnd?.readiness).toBe(readiness);
    expect(atTheEnd?.status).toBe(readiness === 'analysis' ? 'ANALYZED' : 'READY');
    expect(executionOf(runtime, 'clip.mp4')?.status).toBe('SUCCEEDED');

    // Once every delivery landed (two may cross on their way: each has an environment of its
    // own), the event was recorded, and READY came no later than any event after it: the
    // workflow did not wait for them.
    await runtime.simulator?.settled();
    const settled = (await runtime.records()).find((candidate) => candidate.key === 'clip.mp4');
    expect(Object.keys(settled?.events ?? {})).toContain(event);
    const later = LIFECYCLE.slice(LIFECYCLE.indexOf(event) + 1).map((name) =>
      Date.parse(settled?.events[name] ?? ''),
    );
    for (const seenAt of later) expect(Date.parse(settled?.readyAt ?? '')).toBeLessThanOrEqual(seenAt);
  });
});

describe('a webhook that arrives before the workflow waits for it', () => {
  it('is never lost: the workflow resumes at once, without polling', async () => {
    // Ready on upload, with the event sent as the bytes land: it races Transfer's answer.
    // A lost event would show as a 30 s wait and a poll.
    const runtime = await startRuntime({
      readiness: 'upload',
      pollAfterSeconds: 30,
      simulator: { processingMs: 0 },
    });
    try {
      const files = Object.fromEntries(
        Array.from({ length: 5 }, (_, index) => [`early/${index}.png`, { body: png(index + 1) }]),
      );
      const started = Date.now();
      const records = await ingestAll(runtime, files);
      expect(Date.now() - started).toBeLessThan(20_000);
      for (const key of Object.keys(files)) {
        expect(records[key]?.status, key).toMatch(/READY|ANALYZED/);
        expect(executionOf(runtime, key)?.statesEntered.Poll, key).toBeUndefined();
      }
    } finally {
      await runtime.stop();
    }
  });
});

describe('webhooks lost; URLs expired; analysis and processing failed', () => {
  let runtime: LocalRuntime;
  beforeAll(async () => {
    runtime = await startRuntime({
      pollAfterSeconds: 1,
      maxWaitSeconds: 30,
      simulator: { processingMs: 100 },
    });
  });
  afterAll(async () => {
    await runtime.stop();
  });

  it('carries a file whose webhooks are all lost through the poll path', async () => {
    runtime.simulator?.faults.add({ fault: 'drop_delivery', displayName: 'lost.png' });
    const records = await ingestAll(runtime, { 'lost.png': { body: png() } });
    expect(records['lost.png']).toMatchObject({
      status: expect.stringMatching(/READY|ANALYZED/),
      events: {},
    });
    expect(executionOf(runtime, 'lost.png')?.statesEntered.Poll).toBeGreaterThanOrEqual(1);
  });

  it('creates a new file when the upload URL expired, and records the abandoned one', async () => {
    const body = png(9, 9);
    runtime.simulator?.faults.add({ fault: 'expire_url', displayName: 'expired.png', nth: 1 });

    const records = await ingestAll(runtime, { 'expired.png': { body } });

    const record = records['expired.png'];
    expect(record).toMatchObject({
      status: expect.stringMatching(/READY|ANALYZED/),
      attempts: 2,
      abandonedFileIds: [expect.any(String)],
    });
    expect(receivedBy(runtime, record)?.sha256).toBe(sha256(body));
    expect(runtime.simulator?.file(record?.abandonedFileIds[0] ?? '')?.received).toBeUndefined();
  });

  it('records ANALYSIS_FAILED after READY when analysis fails, and the workflow succeeds', async () => {
    runtime.simulator?.faults.add({ fault: 'fail_analysis', displayName: 'unanalyzable.png' });
    await ingestAll(runtime, { 'unanalyzable.png': { body: png() } });
    await runtime.simulator?.settled();
    const record = (await runtime.records()).find((candidate) => candidate.key === 'unanalyzable.png');
    expect(record).toMatchObject({
      status: 'ANALYSIS_FAILED',
      events: { 'file.analysis_failed': expect.any(String) },
    });
    expect(executionOf(runtime, 'unanalyzable.png')?.status).toBe('SUCCEEDED');
  });

  it('records FAILED when VideoGen fails processing, and the execution fails', async () => {
    runtime.simulator?.faults.add({ fault: 'fail_processing', displayName: 'broken.mp4' });
    const records = await ingestAll(runtime, { 'broken.mp4': { body: mp4() } });
    expect(records['broken.mp4']).toMatchObject({
      status: 'FAILED',
      error: { code: 'VIDEOGEN_PROCESSING_FAILED' },
    });
    expect(executionOf(runtime, 'broken.mp4')).toMatchObject({
      status: 'FAILED',
      error: 'VideoGenProcessingFailed',
    });
  });
});

describe('429 and 5xx storms', () => {
  let runtime: LocalRuntime;
  beforeAll(async () => {
    runtime = await startRuntime({
      simulator: {
        seed: 7,
        faults: [
          { fault: 'rate_limit', on: 'create', rate: 0.4, retryAfterSeconds: 0 },
          { fault: 'server_error', on: 'create', rate: 0.2 },
          { fault: 'rate_limit', on: 'put', rate: 0.3, retryAfterSeconds: 0 },
          { fault: 'server_error', on: 'put', rate: 0.3, status: 503 },
        ],
      },
    });
  });
  afterAll(async () => {
    await runtime.stop();
  });

  it('ends every file READY with one VideoGen file holding its bytes', async () => {
    const files = Object.fromEntries(
      Array.from({ length: 12 }, (_, index) => [`storm/${index}.png`, { body: png(index + 2, 2) }]),
    );

    const records = await ingestAll(runtime, files);

    for (const [key, file] of Object.entries(files)) {
      expect(records[key]?.status, key).toMatch(/READY|ANALYZED/);
      expect(receivedBy(runtime, records[key])?.sha256, key).toBe(sha256(file.body));
    }
    const withBytes = runtime.simulator?.files().filter((file) => file.received) ?? [];
    expect(withBytes).toHaveLength(12);
    const injected = runtime.simulator?.injected() ?? {};
    expect((injected.rate_limit ?? 0) + (injected.server_error ?? 0)).toBeGreaterThan(5);
  });
});

describe('the max wait', () => {
  it('records TIMED_OUT when VideoGen never reports the file ready', async () => {
    const runtime = await startRuntime({
      pollAfterSeconds: 1,
      maxWaitSeconds: 2,
      simulator: { processingMs: 60_000 },
    });
    try {
      const records = await ingestAll(runtime, { 'stuck.mp4': { body: mp4() } });
      expect(records['stuck.mp4']).toMatchObject({ status: 'TIMED_OUT', error: { code: 'TIMED_OUT' } });
      expect(executionOf(runtime, 'stuck.mp4')).toMatchObject({ status: 'FAILED', error: 'IngestTimedOut' });
    } finally {
      await runtime.stop();
    }
  });
});

describe('the webhook registration, as the custom resource does it', () => {
  it('registers the local webhook URL with the API on start and deletes it on stop', async () => {
    const { VideoGenSimulator } = await import('#local/simulator/simulator');
    const sim = await VideoGenSimulator.start({ processingMs: 50, analysisMs: 20 });
    try {
      const runtime = await startRuntime({ videoGenApiUrl: sim.url });
      const [endpoint] = sim.endpoints();
      expect(endpoint).toMatchObject({
        url: runtime.webhookUrl,
        deleted: false,
        events: expect.arrayContaining(['file.download_ready']),
      });
      await ingestAll(runtime, { 'registered.png': { body: png() } });
      expect(sim.deliveries().some((delivery) => delivery.outcome === 'delivered')).toBe(true);
      await runtime.stop();
      expect(sim.endpoints()[0]?.deleted).toBe(true);
    } finally {
      await sim.close();
    }
  });

  it('falls back to polling when the API cannot call the webhook URL', async () => {
    const runtime = await startRuntime({ registerWebhooks: false, pollAfterSeconds: 1 });
    try {
      expect(runtime.webhooksRegistered).toBe(false);
      const records = await ingestAll(runtime, { 'unregistered.png': { body: png() } });
      expect(records['unregistered.png']).toMatchObject({
        status: expect.stringMatching(/READY|ANALYZED/),
        events: {},
      });
      expect(runtime.simulator?.deliveries()).toEqual([]);
      expect(executionOf(runtime, 'unregistered.png')?.statesEntered.Poll).toBeGreaterThanOrEqual(1);
    } finally {
      await runtime.stop();
    }
  });
});

describe('logs', () => {
  it('never hold the API key, a webhook secret or a presigned URL, even at DEBUG and under faults', async () => {
    const apiKey = `vg_e2e_${Math.random().toString(16).slice(2)}_key`;
    const logs = captureLogs();
    let runtime: LocalRuntime | undefined;
    try {
      runtime = await startRuntime({
        videoGenApiKey: apiKey,
        handlerLogLevel: 'DEBUG',
        pollAfterSeconds: 1,
        simulator: {
          log: (line) => process.stderr.write(`[sim] ${line}\n`),
          faults: [
            { fault: 'expire_url', nth: 1 },
            { fault: 'rate_limit', on: 'create', nth: 2, retryAfterSeconds: 0 },
            { fault: 'server_error', on: 'put', nth: 3 },
            { fault: 'drop_delivery', on: 'file.download_ready', nth: 1 },
          ],
        },
      });
      await ingestAll(runtime, {
        'logs/a.png': { body: png() },
        'logs/b.mp4': { body: mp4() },
        'logs/c.png': { body: png(3) },
      });
      const secrets = {
        apiKey,
        webhookSecrets: runtime.simulator?.endpoints().flatMap((endpoint) => endpoint.secrets) ?? [],
      };
      await runtime.stop();
      runtime = undefined;
      logs.stop();
      expect(logs.text()).toContain('"level":"INFO"');
      expect(leakedSecrets(logs.text(), secrets)).toEqual([]);
    } finally {
      logs.stop();
      await runtime?.stop();
    }
  });
});
