import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
/**
 * Admission control as deployed: transfers wait their turn in the transfer queue, at most
 * the cap run at once, VideoGen's rate limit slows them all, a worker that dies is
 * redelivered without a second upload, and Lambda's concurrency limits are enforced as
 * Lambda enforces them.
 */
import { describe, expect, it } from 'vitest';
import { mp4, png } from '#local/media';
import { LocalRuntime } from '#local/runtime/runtime';
import { DEFAULT_WEBHOOK_THROTTLE } from '../../lib/ingest-props.ts';
import { FAILURE_STATUSES, READY_STATUSES } from '#shared/ingest/record';
import {
  FAST,
  ingestAll,
  receivedBy,
  sha256,
  shortTransferTimeouts,
  startRuntime,
} from '../helpers/runtime.ts';

const execFileAsync = promisify(execFile);

/** The records of `keys` once every one has ended (ready, rejected or failed), or at the deadline. */
async function settledRecords(runtime: LocalRuntime, keys: readonly string[], timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const records = Object.fromEntries((await runtime.records()).map((record) => [record.key, record]));
    const ended = keys.every((key) => {
      const record = records[key];
      return record && (READY_STATUSES.includes(record.status) || FAILURE_STATUSES.includes(record.status));
    });
    if (ended || Date.now() > deadline) return records;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
const FLOOD = new URL('../helpers/flood.mjs', import.meta.url).pathname;

const batch = (prefix: string, count: number) =>
  Object.fromEntries(
    Array.from({ length: count }, (_, index) => [`${prefix}/${index}.png`, { body: png(index + 3, 2) }]),
  );

describe('the transfer queue', () => {
  it('holds transfers to the cap however many files arrive, and every file still ends READY', async () => {
    const runtime = await startRuntime({
      maxConcurrentTransfers: 2,
      // Each PUT takes a while, so files pile up behind the cap.
      simulator: { faults: [{ fault: 'slow', on: 'put', delayMs: 150 }] },
    });
    try {
      const records = await ingestAll(runtime, batch('capped', 10));
      expect(Object.values(records).filter((record) => READY_STATUSES.includes(record.status))).toHaveLength(
        10,
      );
      expect(runtime.simulator?.peakConcurrentUploads).toBe(2);
      expect(runtime.mappings.get('transfer')?.figures.peakConcurrency).toBe(2);
      // Waiting costs nothing: no execution retried a throttled transfer to wait its turn.
      expect(runtime.lambdas.throttles).toEqual({});
      expect(runtime.lambdas.invocations.transfer).toBe(10);
    } finally {
      await runtime.stop();
    }
  });

  it('shares VideoGen’s rate limit: each worker meets a pause at most once, none failed for it', async () => {
    const cap = 4;
    const retryAfterMs = 1000;
    const runtime = await startRuntime({
      maxConcurrentTransfers: cap,
      simulator: { createRateLimit: { perSecond: 3, retryAfterSeconds: retryAfterMs / 1000 } },
    });
    try {
      const files = batch('limited', 16);
      const records = await ingestAll(runtime, files);
      for (const [key, file] of Object.entries(files)) {
        expect(READY_STATUSES, key).toContain(records[key]?.status);
        expect(receivedBy(runtime, records[key])?.sha256).toBe(sha256(file.body));
      }
      // A worker that meets a 429 waits its Retry-After before it calls again, and so do the
      // workers that read the pause it shared: in any Retry-After, each meets it once at most.
      const limitedAt = (runtime.simulator?.requests() ?? [])
        .filter((request) => request.status === 429)
        .map((request) => Date.parse(request.at));
      expect(limitedAt.length).toBeGreaterThan(0);
      const mostInOnePause = Math.max(
        ...limitedAt.map(
          (at) => limitedAt.filter((other) => other >= at && other < at + retryAfterMs).length,
        ),
      );
      expect(mostInOnePause).toBeLessThanOrEqual(cap);
    } finally {
      await runtime.stop();
    }
  });

  it('redelivers the message of a worker that died mid-transfer, and the source gets one uploaded file', async () => {
    const runtime = await startRuntime({
      // A crashed attempt comes back after the queue's visibility timeout, when its lease has
      // ended with its time limit: 13 s here, 16 min deployed.
      editTemplate: shortTransferTimeouts(12),
      simulator: { faults: [{ fault: 'slow', on: 'put', delayMs: 1500, nth: 1 }] },
    });
    try {
      await runtime.drop('crash/clip.mp4', mp4(400_000));
      await expect
        .poll(() => runtime.simulator?.requests().filter((request) => request.op === 'create').length, {
          timeout: 20_000,
        })
        .toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(runtime.lambdas.crashRunning('transfer')).toBe(1);

      const records = await ingestAll(runtime, {});
      const record = Object.values(records).find((candidate) => candidate.key === 'crash/clip.mp4');
      expect(READY_STATUSES).toContain(record?.status);
      const stored = runtime.simulator?.uploads().filter((upload) => upload.outcome === 'stored') ?? [];
      expect(stored.map((upload) => upload.fileId)).toEqual([record?.fileId]);
      // Redelivered, not re-sent: the worker ran twice, and a file abandoned before its bytes is on record.
      expect(runtime.lambdas.invocations.transfer).toBe(2);
      expect(record?.attempts).toBe((record?.abandonedFileIds.length ?? 0) + 1);
      expect(runtime.queues.transferDeadLetters.depth).toBe(0);
    } finally {
      await runtime.stop();
    }
  });
});

describe('Lambda concurrency, as Lambda enforces it', () => {
  it('refuses to start when reservations leave the account less than 100 unreserved', async () => {
    await expect(
      LocalRuntime.start({
        ...FAST,
        accountConcurrency: 10,
        editTemplate: (template) => {
          const [webhook] = Object.entries(template.Resources).filter(([id]) =>
            /Webhook[0-9A-F]{8}$/.test(id),
          );
          if (webhook?.[1].Properties) webhook[1].Properties.ReservedConcurrentExecutions = 2;
        },
      }),
    ).rejects.toThrow(/decreases account's UnreservedConcurrentExecution below its minimum value of \[100\]/);
  });

  it(
    'on a small account, every Lambda task retries its throttles: AwaitFile throttled, no file FAILED after its bytes went',
    { timeout: 300_000 },
    async () => {
      // Six in all, fewer than a new account's ten: two transfers hold two, webhooks, Prepare,
      // Poll and AwaitFile share the rest, and a burst of files outruns it. With ten, whether
      // AwaitFile met a throttle depended on timing (a clean-clone CI run met none).
      const runtime = await startRuntime({
        accountConcurrency: 6,
        maxConcurrentTransfers: 2,
        // A throttled transfer's message comes back after the visibility timeout: 13 s here.
        editTemplate: shortTransferTimeouts(12),
      });
      try {
        const files = batch('small-account', 16);
        // A throttled starter's batch comes back after the S3 events queue's visibility
        // timeout (3 minutes, six times the starter's), as on AWS: a loaded machine meets it.
        const records = await ingestAll(runtime, files, { idleTimeoutMs: 240_000 });
        const notReady = Object.keys(files)
          .filter((key) => !READY_STATUSES.includes(records[key]?.status ?? 'FAILED'))
          .map((key) => `${key}: ${records[key]?.status} ${JSON.stringify(records[key]?.error)}`);
        expect(notReady).toEqual([]);
        process.stderr.write(`[small account] throttles ${JSON.stringify(runtime.lambdas.throttles)}\n`);
        expect(runtime.lambdas.throttles['await-file'] ?? 0).toBeGreaterThan(0);
      } finally {
        await runtime.stop();
      }
    },
  );

  it(
    'keeps a flood of forged webhooks (30 s, 200+ a second) from the transfers: the stage throttles it, no file fails',
    { timeout: 420_000 },
    async () => {
      // The transfer worker gets an environment for each transfer the cap allows.
      const cap = 6;
      const runtime = await startRuntime({
        accountConcurrency: 50,
        maxConcurrentTransfers: cap,
        // Slow uploads, so the cap is reached while the flood goes on.
        simulator: { faults: [{ fault: 'slow', on: 'put', delayMs: 4000 }] },
      });
      try {
        // From a process of its own, as fast as this machine sends.
        const flooding = execFileAsync(process.execPath, [FLOOD, runtime.webhookUrl, '30', '32']);
        const files = batch('flooded', 50);
        for (const [key, file] of Object.entries(files)) await runtime.drop(key, file.body);
        // A function throttled while the flood raged (this machine runs each webhook invocation
        // about ten times slower than Lambda does) is retried as on AWS: an S3 event's batch
        // after its queue's 3-minute visibility timeout.
        const records = await settledRecords(runtime, Object.keys(files), 5 * 60_000);
        const flood = JSON.parse((await flooding).stdout) as Record<
          'sent' | 'throttled' | 'refused' | 'other' | 'seconds',
          number
        >;
        const notReady = Object.keys(files)
          .filter((key) => !READY_STATUSES.includes(records[key]?.status ?? 'FAILED'))
          .map((key) => `${key}: ${records[key]?.status} ${JSON.stringify(records[key]?.error)}`);
        const webhook = runtime.lambdas.figures().webhook;
        process.stderr.write(
          `[flood] ${Math.round(flood.sent / flood.seconds)} forged requests a second for ${Math.round(flood.seconds)} s: ${JSON.stringify(flood)}; webhook invocations ${runtime.lambdas.invocations.webhook}, peak webhook concurrency ${webhook?.peakConcurrency}, throttles ${JSON.stringify(runtime.lambdas.throttles)}, peak uploads ${runtime.simulator?.peakConcurrentUploads}\n`,
        );
        expect(flood.sent / flood.seconds).toBeGreaterThanOrEqual(200);
        // Every forged request was turned away: by the stage (429) or by its signature (4xx).
        expect(flood.other).toBe(0);
        // The stage let through at most its rate for the flood's length, and its burst: counted
        // by the stage itself, as a 429 may also be Lambda's (concurrency, busy environments).
        const { rateLimit, burstLimit } = DEFAULT_WEBHOOK_THROTTLE;
        expect(runtime.webhooksThrottled).toBeGreaterThanOrEqual(
          flood.sent - (rateLimit * flood.seconds + burstLimit),
        );
        expect(notReady).toEqual([]);
        expect(runtime.simulator?.peakConcurrentUploads).toBe(cap);
      } finally {
        await runtime.stop();
      }
    },
  );

  it('throttles a function at its reservation; the workflow retries and every file still lands', async () => {
    const runtime = await startRuntime({
      editTemplate: (template) => {
        for (const [logicalId, resource] of Object.entries(template.Resources)) {
          if (
            resource.Type === 'AWS::Lambda::Function' &&
            /Prepare[0-9A-F]{8}$/.test(logicalId) &&
            resource.Properties
          )
            resource.Properties.ReservedConcurrentExecutions = 1;
        }
      },
    });
    try {
      const records = await ingestAll(runtime, batch('throttled', 5));
      expect(Object.values(records).filter((record) => READY_STATUSES.includes(record.status))).toHaveLength(
        5,
      );
      expect(runtime.lambdas.throttles.prepare ?? 0).toBeGreaterThan(0);
      expect(runtime.lambdas.figures().prepare?.peakConcurrency).toBe(1);
    } finally {
      await runtime.stop();
    }
  });
});
