/**
 * The chaos run's backlog case: a library-sized drop against a small cap, VideoGen's rate
 * limit, transient faults, a throttled function and transfer workers killed mid-work.
 * Files queue instead of failing, the cap holds as VideoGen sees it, 429s stay fewer than
 * files, and no source ever gets two uploaded VideoGen files.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '#local/runtime/runtime';
import { png } from '#local/media';
import { READY_STATUSES, type IngestRecord } from '#shared/ingest/record';
import { sha256, shortTransferTimeouts, startRuntime } from '../helpers/runtime.ts';

const FILES = Number(process.env.BACKLOG_FILES ?? 300);
const CAP = 2;
const CREATES_PER_SECOND = 4;
const CRASHES = 10;
const RESULTS = process.env.BACKLOG_RESULTS ?? 'bench/results/chaos-backlog-latest.json';

describe(`chaos: a backlog of ${FILES} files at cap ${CAP}, rate-limited, throttled, with crashes`, () => {
  const inputs = Array.from({ length: FILES }, (_, index) => ({
    key: `backlog/${index}.png`,
    body: png((index % 60) + 1, 2),
  }));
  let runtime: LocalRuntime;
  let records: Map<string, IngestRecord>;
  let crashed = 0;
  let wallMs = 0;

  beforeAll(async () => {
    runtime = await startRuntime({
      maxConcurrentTransfers: CAP,
      retryPauseMs: 200,
      // SQS delivers some messages twice, the copies overlapping.
      duplicateDeliveryRate: 0.05,
      editTemplate: (template) => {
        // A killed worker's message comes back, its lease ended, in 16 s (16 min deployed).
        shortTransferTimeouts(15)(template);
        for (const [logicalId, resource] of Object.entries(template.Resources)) {
          const properties = resource.Properties ?? {};
          // Prepare reserved at 2: bursts of starts are throttled and retried.
          if (resource.Type === 'AWS::Lambda::Function' && /Prepare[0-9A-F]{8}$/.test(logicalId))
            properties.ReservedConcurrentExecutions = 2;
        }
      },
      simulator: {
        createRateLimit: { perSecond: CREATES_PER_SECOND, retryAfterSeconds: 1 },
        faults: [
          { fault: 'server_error', on: 'create', rate: 0.05 },
          { fault: 'server_error', on: 'put', rate: 0.05, status: 503 },
          { fault: 'slow', on: 'put', rate: 0.2, delayMs: 400 },
        ],
        seed: 12,
      },
    });
    const started = Date.now();
    for (const file of inputs) await runtime.drop(file.key, file.body);
    // Kill whatever transfer is running now and then, as a Lambda host dies.
    const killer = setInterval(() => {
      if (crashed < CRASHES) crashed += runtime.lambdas.crashRunning('transfer') > 0 ? 1 : 0;
    }, 1500);
    try {
      const deadline = Date.now() + 15 * 60_000;
      let reported = 0;
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const current = await runtime.records();
        if (Date.now() - reported > 20_000) {
          reported = Date.now();
          const statuses: Record<string, number> = {};
          for (const record of current) statuses[record.status] = (statuses[record.status] ?? 0) + 1;
          const running = runtime.stepFunctions
            .executions()
            .filter((execution) => execution.status === 'RUNNING');
          process.stderr.write(
            `[backlog] ${Math.round((Date.now() - started) / 1000)} s: ${JSON.stringify(statuses)}, ${running.length} running, transfer queue ${runtime.queues.transfer.depth}, throttles ${JSON.stringify(runtime.lambdas.throttles)}, killed ${crashed}\n`,
          );
        }
        const running = runtime.stepFunctions
          .executions()
          .some((execution) => execution.status === 'RUNNING');
        if (current.length >= FILES && !running && runtime.queues.transfer.depth === 0) break;
        if (Date.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    } finally {
      clearInterval(killer);
    }
    wallMs = Date.now() - started;
    records = new Map((await runtime.records()).map((record) => [record.key, record]));
  }, 20 * 60_000);

  afterAll(async () => {
    const sim = runtime.simulator;
    const figures = {
      ranAt: new Date().toISOString(),
      files: FILES,
      cap: CAP,
      createsPerSecond: CREATES_PER_SECOND,
      wallSeconds: Math.round(wallMs / 100) / 10,
      workersKilled: crashed,
      peakConcurrentUploads: sim?.peakConcurrentUploads,
      rateLimited: sim?.requests().filter((request) => request.status === 429).length,
      throttles: runtime.lambdas.throttles,
      transferInvocations: runtime.lambdas.invocations.transfer,
      duplicateDeliveries: runtime.queues.transfer.duplicated + runtime.queues.ingest.duplicated,
      failed: [...records.values()].filter((record) => !READY_STATUSES.includes(record.status)).length,
    };
    await runtime.stop();
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(RESULTS, `${JSON.stringify(figures, null, 2)}\n`);
    console.log(`backlog figures (${RESULTS}):\n${JSON.stringify(figures, null, 2)}`);
  });

  it('ends every file ready: none failed for waiting, for a 429, a throttle or a killed worker', () => {
    const notReady = inputs
      .map((file) => records.get(file.key))
      .filter((record) => !record || !READY_STATUSES.includes(record.status))
      .map((record) => `${record?.key}: ${record?.status} ${JSON.stringify(record?.error)}`);
    expect(notReady).toEqual([]);
    expect(crashed).toBeGreaterThan(0);
    expect(runtime.lambdas.throttles.prepare ?? 0).toBeGreaterThan(0);
  });

  it('held the cap as VideoGen saw it, and met its rate limit fewer times than there are files', () => {
    expect(runtime.simulator?.peakConcurrentUploads).toBeLessThanOrEqual(CAP);
    expect(runtime.simulator?.requests().filter((request) => request.status === 429).length).toBeLessThan(
      FILES,
    );
  });

  it('gave each source one uploaded VideoGen file, with its bytes; abandoned files got none', () => {
    const stored = runtime.simulator?.uploads().filter((upload) => upload.outcome === 'stored') ?? [];
    expect(stored).toHaveLength(FILES);
    const problems: string[] = [];
    for (const file of inputs) {
      const record = records.get(file.key);
      const received = record?.fileId ? runtime.simulator?.file(record.fileId)?.received : undefined;
      if (received?.sha256 !== sha256(file.body)) problems.push(`${file.key}: ${JSON.stringify(received)}`);
      for (const abandoned of record?.abandonedFileIds ?? [])
        if (runtime.simulator?.file(abandoned)?.received)
          problems.push(`${file.key}: ${abandoned} got bytes`);
    }
    expect(problems).toEqual([]);
    expect(runtime.queues.transferDeadLetters.depth).toBe(0);
    expect(runtime.queues.transfer.duplicated).toBeGreaterThan(0);
  });
});
