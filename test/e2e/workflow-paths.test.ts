import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '#local/runtime/runtime';
import { mp4, png } from '#local/media';
import { executionOf, ingestAll, receivedBy, sha256, startRuntime } from '../helpers/runtime.ts';
import { present } from '../helpers/present.ts';

describe('a webhook that arrives before the workflow waits for it', () => {
  it('is never lost: the workflow resumes at once, without polling', async () => {
    // Ready on upload, with the event sent as the bytes land: it races Transfer's answer.
    // A lost event would show as a 30 s wait and a poll: the executions must never enter Poll.
    const runtime = await startRuntime({
      readiness: 'upload',
      pollAfterSeconds: 30,
      simulator: { processingMs: 0 },
    });
    try {
      const files = Object.fromEntries(
        Array.from({ length: 5 }, (_, index) => [`early/${index}.png`, { body: png(index + 1) }]),
      );
      const records = await ingestAll(runtime, files);
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
    expect(
      present(runtime.simulator?.file(record?.abandonedFileIds[0] ?? ''), 'the abandoned file').received,
    ).toBeUndefined();
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
