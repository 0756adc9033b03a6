/**
 * The pipeline on the local runtime (files per minute, drop-to-READY latency, and per
 * file: state transitions, Lambda invocations and time, VideoGen requests, DynamoDB
 * requests), and the same files uploaded the way the VideoGen SDK's `uploadFile` works
 * (create, PUT, GET every 2 s until ready) against the same simulator, side by side.
 */
import { availableParallelism } from 'node:os';
import { Readable } from 'node:stream';
import { EVENTUAL_GET, readOperationCounts } from '../local/services/dynamodb/dynamodb.ts';
import { png } from '../local/media.ts';
import { LocalRuntime } from '../local/runtime/runtime.ts';
import { VideoGenSimulator } from '../local/simulator/simulator.ts';
import { VideoGenClient } from '../lambdas/shared/videogen/client.ts';
import { uploadToPresignedUrl } from '../lambdas/shared/videogen/upload.ts';
import { costPer1000, type CostPer1000, type PerFileCounts } from './cost.ts';
import { measureCpu, type CpuFigures } from './cpu-figures.ts';
import { percentile, round, sumOfValues } from './stats.ts';

export interface PipelineFigures {
  readonly files: number;
  readonly simulatorProcessingMs: number;
  readonly filesPerMinute: number;
  /** Files from the first drop to the last READY, a second. */
  readonly filesPerSecond: number;
  /** CPU per file by component, and peak memory, over the same run. */
  readonly cpu: CpuFigures;
  /** Drop (PutObject) to READY recorded, minus the simulator's processing time. */
  readonly latencyMs: { readonly p50: number; readonly p95: number };
  readonly perFile: PerFileCounts & {
    readonly videoGenRequests: number;
    readonly polls: number;
    readonly dynamoDbRequests: Record<string, number>;
    readonly invocationsByFunction: Record<string, number>;
    /** Environments (an isolate each) each function had at the end. */
    readonly environmentsByFunction: Record<string, number>;
  };
  readonly costPer1000Files: CostPer1000;
}

export interface SeedApproachFigures {
  readonly files: number;
  readonly pollIntervalMs: number;
  readonly concurrency: number;
  readonly videoGenRequestsPerFile: number;
  readonly latencyMs: { readonly p50: number; readonly p95: number };
}

/**
 * The webhook stage's throttle in the pipeline runs: far above their event rate, so the
 * figures are the runtime's own cost per file. As deployed (100 a second, 20 at once) the
 * stage bounds a burst of small files at about 33 files a second (three events each), and
 * what it turns away VideoGen delivers again later.
 */
export const UNTHROTTLED_WEBHOOKS = { rateLimit: 5000, burstLimit: 2500 } as const;

/** Memory of each function as the construct deploys it (MiB). */
const MEMORY_MIB: Record<string, number> = { transfer: 1024 };
const DEFAULT_MEMORY_MIB = 256;

/** The runtime every pipeline run measures: webhooks unthrottled, handlers silent. */
function startPipelineRuntime(processingMs: number, environmentsPerFunction?: number): Promise<LocalRuntime> {
  return LocalRuntime.start({
    simulator: { processingMs, playbackMs: processingMs / 2, analysisMs: processingMs, seed: 1 },
    pollAfterSeconds: 60,
    maxWaitSeconds: 600,
    handlerLogLevel: 'SILENT',
    webhookThrottle: UNTHROTTLED_WEBHOOKS,
    ...(environmentsPerFunction === undefined ? {} : { environmentsPerFunction }),
  });
}

/**
 * Drops files `from` to `to` (PNGs of varying sizes), ten PUTs at a time as `aws s3 sync`
 * sends them (its max_concurrent_requests), noting when each was dropped; then waits until
 * the table has `to` records.
 */
async function dropAndAwait(
  runtime: LocalRuntime,
  from: number,
  to: number,
  dropped: Map<string, number>,
): Promise<void> {
  let next = from;
  const dropper = async (): Promise<void> => {
    for (let index = next++; index < to; index = next++) {
      const key = `bench/${index}.png`;
      dropped.set(key, Date.now());
      await runtime.drop(key, png((index % 64) + 1, 2));
    }
  };
  await Promise.all(Array.from({ length: 10 }, dropper));
  for (;;) {
    await runtime.idle(30 * 60_000);
    const records = await runtime.records();
    if (records.length >= to) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export async function measurePipeline(files: number, processingMs: number): Promise<PipelineFigures> {
  const runtime = await startPipelineRuntime(processingMs);
  try {
    const dropped = new Map<string, number>();
    const before = await readOperationCounts(runtime.dynamoEndpoint);
    const cpu = await measureCpu(runtime.dynamoPid, runtime.lambdas.figures());
    await dropAndAwait(runtime, 0, files, dropped);
    const cpuFigures = await cpu.stop(files, runtime.lambdas.figures());
    const records = await runtime.records();
    const readyAt = records.map((record) => Date.parse(record.readyAt ?? ''));
    const latencies = records.map(
      (record) => Date.parse(record.readyAt ?? '') - (dropped.get(record.key) ?? 0) - processingMs,
    );
    const elapsedMs = Math.max(...readyAt) - Math.min(...dropped.values());
    const measured = await countsPerFile(runtime, files, before);
    return {
      files,
      simulatorProcessingMs: processingMs,
      filesPerMinute: round((files / elapsedMs) * 60_000, 0),
      filesPerSecond: round((files / elapsedMs) * 1000, 1),
      cpu: cpuFigures,
      latencyMs: { p50: Math.round(percentile(latencies, 50)), p95: Math.round(percentile(latencies, 95)) },
      perFile: measured,
      costPer1000Files: costPer1000(measured),
    };
  } finally {
    await runtime.stop();
  }
}

/** The pipeline once warm: figures of the files dropped after the first `warmFiles`. */
export interface WarmPipelineFigures {
  /** One environment a function (the warmest code), or the runtime's own caps. */
  readonly environments: 'one a function' | 'as the runtime grows them';
  readonly warmFiles: number;
  readonly files: number;
  readonly filesPerSecond: number;
  readonly cpu: CpuFigures;
  readonly dynamoDbRequestsPerFile: number;
  /** Environments (an isolate each) each function had at the end. */
  readonly environmentsByFunction: Record<string, number>;
  /** This machine's cores' worth of files a second at that CPU a file, were every core busy with them. */
  readonly filesPerSecondTheCpuAllows: number;
}

/**
 * The pipeline's cost once warm, after `warmFiles` went through: what the runtime costs a
 * file when its isolates have compiled their code. With `environmentsPerFunction` 1, every
 * function's traffic warms one isolate, the least CPU a file this runtime can take with
 * every fidelity kept (real bundles, the SDK over HTTP, IAM on every call, the emulators):
 * the floor that a files-a-second target on this machine is measured against.
 */
export async function measureWarmPipeline(
  warmFiles: number,
  files: number,
  processingMs: number,
  environmentsPerFunction?: number,
): Promise<WarmPipelineFigures> {
  const runtime = await startPipelineRuntime(processingMs, environmentsPerFunction);
  try {
    const dropped = new Map<string, number>();
    await dropAndAwait(runtime, 0, warmFiles, dropped);
    const before = await readOperationCounts(runtime.dynamoEndpoint);
    const cpu = await measureCpu(runtime.dynamoPid, runtime.lambdas.figures());
    const started = Date.now();
    await dropAndAwait(runtime, warmFiles, warmFiles + files, dropped);
    const elapsedMs = Date.now() - started;
    const cpuFigures = await cpu.stop(files, runtime.lambdas.figures());
    const after = await readOperationCounts(runtime.dynamoEndpoint);
    return {
      environments: environmentsPerFunction === 1 ? 'one a function' : 'as the runtime grows them',
      warmFiles,
      files,
      filesPerSecond: round((files / elapsedMs) * 1000, 1),
      cpu: cpuFigures,
      dynamoDbRequestsPerFile: round(sumOfValues(dynamoDbRequestsBetween(before, after)) / files),
      environmentsByFunction: environmentsAtTheEnd(runtime),
      filesPerSecondTheCpuAllows: round((availableParallelism() * 1000) / cpuFigures.perFileMs.total, 1),
    };
  } finally {
    await runtime.stop();
  }
}

/** Environments each function that ran had (the webhook's registration left out). */
function environmentsAtTheEnd(runtime: LocalRuntime): Record<string, number> {
  return Object.fromEntries(
    Object.entries(runtime.lambdas.figures())
      .filter(([name, figures]) => name !== 'register-webhook' && figures.environments > 0)
      .map(([name, figures]) => [name, figures.environments]),
  );
}

/**
 * The DynamoDB requests the pipeline made between two readings of the emulator's counts, by
 * operation: not the benchmark's own scans, not the tables' creation.
 */
function dynamoDbRequestsBetween(before: Record<string, number>, after: Record<string, number>) {
  const requests: Record<string, number> = {};
  for (const [operation, count] of Object.entries(after)) {
    const delta = count - (before[operation] ?? 0);
    if (delta > 0 && !['Scan', 'CreateTable', 'DescribeTable', EVENTUAL_GET].includes(operation))
      requests[operation] = delta;
  }
  return requests;
}

/**
 * What each file cost the runtime since `before` (the emulator's DynamoDB operation
 * counts then): transitions, invocations and GB-seconds, DynamoDB units, SQS requests,
 * VideoGen requests, as the cost model takes them.
 */
export async function countsPerFile(
  runtime: LocalRuntime,
  files: number,
  before: Record<string, number>,
): Promise<PipelineFigures['perFile']> {
  const after = await readOperationCounts(runtime.dynamoEndpoint);
  const records = await runtime.records();
  const executions = runtime.stepFunctions.executions();
  const sim = runtime.simulator;
  const videoGenRequests =
    (sim?.requests().filter((request) => request.op !== 'register' && request.op !== 'unregister').length ??
      0) + (sim?.uploads().length ?? 0);
  const dynamo = dynamoDbRequestsBetween(before, after);
  const eventualGets = (after[EVENTUAL_GET] ?? 0) - (before[EVENTUAL_GET] ?? 0);
  const itemBytes = records.reduce((sum, record) => sum + JSON.stringify(record).length, 0) / records.length;
  const unitsPerWrite = Math.ceil(itemBytes / 1024);
  const writes = (dynamo.PutItem ?? 0) + (dynamo.UpdateItem ?? 0) + (dynamo.DeleteItem ?? 0);
  const invocations = { ...runtime.lambdas.invocations };
  delete invocations['register-webhook'];
  const gbSeconds = Object.entries(runtime.lambdas.figures())
    .filter(([name]) => name !== 'register-webhook')
    .reduce(
      (sum, [name, { billedMs }]) =>
        sum + ((MEMORY_MIB[name] ?? DEFAULT_MEMORY_MIB) / 1024) * (billedMs / 1000),
      0,
    );
  const perFile: PerFileCounts = {
    transitions: round(executions.reduce((sum, execution) => sum + execution.transitions, 0) / files),
    lambdaInvocations: round(Object.values(invocations).reduce((sum, count) => sum + count, 0) / files),
    lambdaGbSeconds: round(gbSeconds / files, 4),
    // A transaction item is billed twice; the pointer and the record are one item each.
    dynamoDbWriteUnits: round((writes * unitsPerWrite + (dynamo.TransactWriteItems ?? 0) * 2 * 2) / files),
    // An eventually consistent read is billed half the units of a consistent one.
    dynamoDbReadUnits: round(
      (((dynamo.GetItem ?? 0) - eventualGets / 2) * Math.ceil(itemBytes / 4096)) / files,
    ),
    // One SendMessage from EventBridge, and a receive and a delete per batch of ten.
    sqsRequests: 1.2,
  };
  const transfers = runtime.lambdas.invocations.transfer ?? 0;
  return {
    ...perFile,
    // Each transfer: SendMessage (the workflow), ReceiveMessage and DeleteMessage (the
    // mapping, batch size 1); a deferred one adds a ChangeMessageVisibility and a receive.
    sqsRequests: round(perFile.sqsRequests + 3 + (2 * Math.max(0, transfers - files)) / files),
    videoGenRequests: round(videoGenRequests / files),
    polls: round((runtime.lambdas.invocations.poll ?? 0) / files),
    dynamoDbRequests: Object.fromEntries(
      Object.entries(dynamo).map(([operation, count]) => [operation, round(count / files)]),
    ),
    invocationsByFunction: Object.fromEntries(
      Object.entries(invocations).map(([name, count]) => [name, round(count / files)]),
    ),
    environmentsByFunction: environmentsAtTheEnd(runtime),
  };
}

/** The seed's `uploadFile`: create, PUT, then `GET` every `pollIntervalMs` until the file is READY. */
export async function measureSeedApproach(
  files: number,
  processingMs: number,
  pollIntervalMs = 2000,
  concurrency = 50,
): Promise<SeedApproachFigures> {
  const sim = await VideoGenSimulator.start({
    processingMs,
    playbackMs: processingMs / 2,
    analysisMs: processingMs,
  });
  const client = new VideoGenClient({ baseUrl: sim.url, apiKey: 'bench' });
  const latencies: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < files; index = next++) {
      const bytes = png((index % 64) + 1, 2);
      const started = Date.now();
      const { fileId, uploadUrl } = await client.createFile({ displayName: `${index}.png`, type: 'IMAGE' });
      await uploadToPresignedUrl({
        url: uploadUrl,
        body: Readable.from([bytes]),
        contentLength: bytes.length,
      });
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
        if ((await client.getFile(fileId)).status === 'READY') break;
      }
      latencies.push(Date.now() - started - processingMs);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
    const requests = sim.requests().length + sim.uploads().length;
    return {
      files,
      pollIntervalMs,
      concurrency,
      videoGenRequestsPerFile: round(requests / files),
      latencyMs: { p50: Math.round(percentile(latencies, 50)), p95: Math.round(percentile(latencies, 95)) },
    };
  } finally {
    await sim.close();
  }
}
