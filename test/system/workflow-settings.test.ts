/**
 * The workflow under each deployment setting and at volume, each with a runtime of its
 * own: every readiness level, 429 and 5xx storms, the webhook registration on start and
 * its fallback, and the logs at DEBUG under faults. (The failure paths one runtime can
 * carry are `test/e2e/workflow-paths.test.ts`.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '#local/runtime/runtime';
import type { Readiness } from '#shared/config';
import { READY_STATUSES } from '#shared/ingest/record';
import { mp4, png } from '#local/media';
import { captureLogs, leakedSecrets } from '../helpers/log-capture.ts';
import { present } from '../helpers/present.ts';
import { executionOf, ingestAll, receivedBy, sha256, startRuntime } from '../helpers/runtime.ts';

// One runtime per level: readiness is a deployment setting.
describe('readiness settings', () => {
  const LIFECYCLE = [
    'file.upload.completed',
    'file.playback_ready',
    'file.download_ready',
    'file.analysis_completed',
  ];

  it.for<[Readiness, string]>([
    ['upload', 'file.upload.completed'],
    ['playback', 'file.playback_ready'],
    ['download', 'file.download_ready'],
    ['analysis', 'file.analysis_completed'],
  ])('%s: the workflow ends at %s', async ([readiness, event], { onTestFinished }) => {
    const runtime = await startRuntime({
      readiness,
      // Analysis a while after the rest, so a workflow that ended at its readiness is seen READY.
      simulator: { processingMs: 300, playbackMs: 150, analysisMs: 2000 },
    });
    onTestFinished(() => runtime.stop());

    const records = await ingestAll(runtime, { 'clip.mp4': { body: mp4() } });
    const atTheEnd = records['clip.mp4'];
    expect(atTheEnd?.readiness).toBe(readiness);
    expect(atTheEnd?.status).toBe(readiness === 'analysis' ? 'ANALYZED' : 'READY');
    expect(executionOf(runtime, 'clip.mp4')?.status).toBe('SUCCEEDED');

    // Once every delivery landed (two may cross on their way: each has an environment of its
    // own), every event was recorded; READY came with the level's own event, not before it,
    // and no later than any event after it: the workflow did not wait for them.
    await runtime.simulator?.settled();
    const settled = present(
      (await runtime.records()).find((candidate) => candidate.key === 'clip.mp4'),
      "clip.mp4's record",
    );
    expect(Object.keys(settled.events).sort()).toEqual([...LIFECYCLE].sort());
    const readyAt = Date.parse(present(settled.readyAt, 'readyAt'));
    expect(readyAt).toBeGreaterThanOrEqual(Date.parse(present(settled.events[event], event)));
    const later = LIFECYCLE.slice(LIFECYCLE.indexOf(event) + 1);
    expect(later.filter((name) => !(readyAt <= Date.parse(present(settled.events[name], name))))).toEqual([]);
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

// A long queue on the poll path alone: 8 files through a cap of 2 with slow PUTs (about 15 s).
describe('the max wait', () => {
  it('counts from when VideoGen got the bytes, not from the drop: a queue longer than the max wait times nothing out', async () => {
    const runtime = await startRuntime({
      maxConcurrentTransfers: 2,
      registerWebhooks: false, // the poll path alone decides
      pollAfterSeconds: 1,
      maxWaitSeconds: 4,
      simulator: { processingMs: 2500, faults: [{ fault: 'slow', on: 'put', delayMs: 1500 }] },
    });
    try {
      const files = Object.fromEntries(
        Array.from({ length: 8 }, (_, index) => [`queued/${index}.png`, { body: png(index + 1, 2) }]),
      );
      const records = await ingestAll(runtime, files);
      const notReady = Object.keys(files)
        .filter((key) => !READY_STATUSES.includes(records[key]?.status ?? 'FAILED'))
        .map((key) => `${key}: ${records[key]?.status} ${records[key]?.error?.message}`);
      expect(notReady).toEqual([]);
      // The last files did wait in the queue longer than the max wait.
      const waits = Object.keys(files).map(
        (key) => Date.parse(records[key]?.uploadedAt ?? '') - Date.parse(records[key]?.createdAt ?? ''),
      );
      expect(Math.max(...waits)).toBeGreaterThan(4000);
    } finally {
      await runtime.stop();
    }
  });
});
