/**
 * The chaos run (`npm run test:chaos`): a thousand files through the local runtime while
 * the simulator injects every fault at once and the webhook handler dies after its write
 * for some deliveries. Every file must end in exactly one correct state, once.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '#local/runtime/runtime';
import type { FaultRule } from '#local/simulator/faults';
import { mp4, png, text, wav } from '#local/media';
import type { IngestRecord, IngestStatus } from '#shared/ingest/record';
import { captureLogs, leakedSecrets, type LogCapture } from '../helpers/log-capture.ts';
import { sha256, startRuntime } from '../helpers/runtime.ts';

const FILES = Number(process.env.CHAOS_FILES ?? 1000);
const SEED = Number(process.env.CHAOS_SEED ?? 20261124);
const RATE = Number(process.env.CHAOS_RATE ?? 0.05);
const RESULTS = process.env.CHAOS_RESULTS ?? 'bench/results/chaos-latest.json';

const FAULTS: FaultRule[] = [
  ...(['create', 'get', 'put'] as const).flatMap((on): FaultRule[] => [
    { fault: 'rate_limit', on, rate: RATE * 0.6, retryAfterSeconds: 1 },
    { fault: 'server_error', on, rate: RATE * 0.6, status: 503 },
    { fault: 'slow', on, rate: RATE * 0.6, delayMs: 300 },
  ]),
  { fault: 'expire_url', rate: RATE * 0.6 },
  { fault: 'drop_delivery', rate: RATE },
  { fault: 'duplicate_delivery', rate: RATE },
  { fault: 'reorder_delivery', rate: RATE },
  { fault: 'delay_delivery', rate: RATE, delayMs: 1500 },
  { fault: 'fail_processing', rate: RATE * 0.4 },
  { fault: 'fail_analysis', rate: RATE },
];

type Kind = 'media' | 'temporary' | 'empty' | 'not-media';

function input(index: number): { key: string; kind: Kind; body: Buffer; metadata?: Record<string, string> } {
  if (index % 50 === 7) return { key: `chaos/${index}-empty.mp4`, kind: 'empty', body: Buffer.alloc(0) };
  if (index % 50 === 13)
    return { key: `chaos/${index}-notes.mp4`, kind: 'not-media', body: text(`not media ${index}`) };
  const body =
    index % 3 === 0
      ? png((index % 40) + 1, 2)
      : index % 3 === 1
        ? mp4(500 + index)
        : wav(0.01 + (index % 10) / 100);
  const key = `chaos/${index} ${index % 7 === 0 ? 'spaced + odd %' : 'file'}.${index % 3 === 0 ? 'png' : index % 3 === 1 ? 'mp4' : 'wav'}`;
  return index % 40 === 3
    ? { key, kind: 'temporary', body, metadata: { 'videogen-temporary': 'true' } }
    : { key, kind: 'media', body };
}

describe(`chaos: ${FILES} files, every fault at once`, () => {
  const apiKey = `vg_chaos_${randomBytes(12).toString('hex')}`;
  const inputs = Array.from({ length: FILES }, (_, index) => input(index));
  let runtime: LocalRuntime;
  let logs: LogCapture;
  let records: Map<string, IngestRecord>;
  let wallMs = 0;

  beforeAll(async () => {
    logs = captureLogs();
    runtime = await startRuntime({
      videoGenApiKey: apiKey,
      readiness: 'analysis',
      pollAfterSeconds: 3,
      maxWaitSeconds: 600,
      retryPauseMs: 50,
      webhookFailureRate: RATE,
      // SQS delivers some messages twice, the copies overlapping (S3 events and transfers alike).
      duplicateDeliveryRate: RATE,
      seed: SEED,
      handlerLogLevel: 'INFO',
      simulator: {
        seed: SEED,
        processingMs: 200,
        playbackMs: 100,
        analysisMs: 200,
        deliveryRetryDelaysMs: [200, 500, 1000, 2000, 4000],
        deliveryTimeoutMs: 3000,
        faults: FAULTS,
        log: (line) => process.stderr.write(`[sim] ${line}\n`),
      },
    });
    const started = Date.now();
    for (const file of inputs)
      await runtime.drop(file.key, file.body, file.metadata ? { metadata: file.metadata } : {});
    const deadline = Date.now() + 15 * 60_000;
    for (;;) {
      await runtime.idle(deadline - Date.now());
      await runtime.simulator?.settled(deadline - Date.now());
      await runtime.idle(deadline - Date.now());
      const current = await runtime.records();
      if (current.length >= FILES || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    wallMs = Date.now() - started;
    records = new Map((await runtime.records()).map((record) => [record.key, record]));
  }, 20 * 60_000);

  afterAll(async () => {
    logs.stop();
    const sim = runtime.simulator;
    const outcomes: Partial<Record<IngestStatus, number>> = {};
    for (const record of records.values()) outcomes[record.status] = (outcomes[record.status] ?? 0) + 1;
    const figures = {
      ranAt: new Date().toISOString(),
      files: FILES,
      seed: SEED,
      faultRate: RATE,
      wallSeconds: Math.round(wallMs / 100) / 10,
      faultsInjected: {
        ...sim?.injected(),
        webhook_handler_died_after_write: runtime.webhookFailures.injected,
        sqs_duplicate_delivery: runtime.queues.transfer.duplicated + runtime.queues.ingest.duplicated,
      },
      outcomes,
      executions: runtime.stepFunctions.executions().length,
      videoGenFilesCreated: sim?.files().length,
      videoGenFilesWithBytes: sim?.files().filter((file) => file.received).length,
      uploadUrlsAbandoned: [...records.values()].reduce(
        (sum, record) => sum + record.abandonedFileIds.length,
        0,
      ),
      failedAfterEveryUploadUrlExpired: [...records.values()].filter(
        (record) => record.error?.code === 'UploadAttemptsExhaustedError',
      ).length,
      deliveries: {
        attempts: sim?.deliveries().length,
        delivered: sim?.deliveries().filter((delivery) => delivery.outcome === 'delivered').length,
        dropped: sim?.deliveries().filter((delivery) => delivery.outcome === 'dropped').length,
      },
      polls: runtime.lambdas.invocations.poll ?? 0,
      lambdaInvocations: runtime.lambdas.invocations,
    };
    await runtime.stop();
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(RESULTS, `${JSON.stringify(figures, null, 2)}\n`);
    console.log(`chaos figures (${RESULTS}):\n${JSON.stringify(figures, null, 2)}`);
  });

  /** Every upload URL this source got was refused as expired: bounded attempts make that a FAILED ingest. */
  function expiredEveryTime(record: IngestRecord | undefined): boolean {
    if (!record?.fileId) return false;
    const files = [record.fileId, ...record.abandonedFileIds];
    const refusals = (fileId: string) =>
      runtime.simulator?.uploads().filter((upload) => upload.fileId === fileId) ?? [];
    return (
      files.length === 3 &&
      files.every(
        (fileId) =>
          refusals(fileId).length > 0 && refusals(fileId).every((upload) => upload.reason === 'AccessDenied'),
      )
    );
  }

  it('ends every file in its expected terminal status', () => {
    const wrong: string[] = [];
    for (const file of inputs) {
      const record = records.get(file.key);
      const simFile = record?.fileId ? runtime.simulator?.file(record.fileId)?.file : undefined;
      const expected =
        file.kind === 'empty' || file.kind === 'not-media'
          ? 'REJECTED'
          : simFile?.status === 'FAILED' || expiredEveryTime(record)
            ? 'FAILED'
            : file.kind === 'temporary'
              ? 'READY'
              : simFile?.analysis?.status === 'FAILED'
                ? 'ANALYSIS_FAILED'
                : 'ANALYZED';
      if (record?.status !== expected)
        wrong.push(
          `${file.key}: ${record?.status ?? 'no record'} (expected ${expected}; ${JSON.stringify(record?.error)})`,
        );
    }
    expect(wrong).toEqual([]);
  });

  it('sends exactly one VideoGen file the bytes of each source, hash for hash; abandoned files got none', () => {
    const problems: string[] = [];
    for (const file of inputs) {
      const record = records.get(file.key);
      if (file.kind === 'empty' || file.kind === 'not-media') {
        if (record?.fileId) problems.push(`${file.key}: a rejected source got a VideoGen file`);
        continue;
      }
      const received = record?.fileId ? runtime.simulator?.file(record.fileId)?.received : undefined;
      if (received?.sha256 !== sha256(file.body))
        problems.push(`${file.key}: bytes ${JSON.stringify(received)}`);
      for (const abandoned of record?.abandonedFileIds ?? []) {
        if (runtime.simulator?.file(abandoned)?.received)
          problems.push(`${file.key}: abandoned ${abandoned} received bytes`);
      }
    }
    expect(problems).toEqual([]);
    const sources = inputs.filter(
      (file) =>
        (file.kind === 'media' || file.kind === 'temporary') && !expiredEveryTime(records.get(file.key)),
    ).length;
    expect(runtime.simulator?.files().filter((file) => file.received)).toHaveLength(sources);
    // Overlapping copies of transfer messages did happen; none made a second upload.
    expect(runtime.queues.transfer.duplicated).toBeGreaterThan(0);
  });

  it('records every genuine event once, and nothing that did not happen', () => {
    const problems: string[] = [];
    const deliveredTypes = new Map<string, Set<string>>();
    for (const delivery of runtime.simulator?.deliveries() ?? []) {
      if (delivery.outcome !== 'delivered') continue;
      const types = deliveredTypes.get(delivery.fileId) ?? new Set<string>();
      types.add(delivery.type);
      deliveredTypes.set(delivery.fileId, types);
    }
    for (const record of records.values()) {
      if (!record.fileId) continue;
      const emitted = new Set(runtime.simulator?.file(record.fileId)?.events);
      const recorded = Object.keys(record.events);
      for (const type of recorded)
        if (!emitted.has(type)) problems.push(`${record.key}: ${type} recorded but never emitted`);
      for (const type of deliveredTypes.get(record.fileId) ?? []) {
        if (!recorded.includes(type)) problems.push(`${record.key}: ${type} delivered but not recorded`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('leaves no execution running and no task token behind', () => {
    expect(runtime.stepFunctions.executions().filter((execution) => execution.status === 'RUNNING')).toEqual(
      [],
    );
    expect(runtime.stepFunctions.executions()).toHaveLength(FILES);
    expect(
      [...records.values()].filter((record) => record.taskToken !== undefined).map((record) => record.key),
    ).toEqual([]);
    expect(runtime.queues.deadLetters.depth).toBe(0);
    expect(runtime.queues.transferDeadLetters.depth).toBe(0);
  });

  it('never writes the API key, a webhook secret or a presigned URL to a log', () => {
    const text = logs.text();
    expect(text.length).toBeGreaterThan(10_000);
    const webhookSecrets = runtime.simulator?.endpoints().flatMap((endpoint) => endpoint.secrets) ?? [];
    expect(webhookSecrets.length).toBeGreaterThan(0);
    expect(leakedSecrets(text, { apiKey, webhookSecrets })).toEqual([]);
  });
});
