import { createHash } from 'node:crypto';
import { LocalRuntime, type LocalRuntimeOptions } from '#local/runtime/runtime';
import type { IngestRecord } from '#shared/ingest/record';
import { readableExecutionName } from '../../lambdas/starter/starter.ts';

/** Fast timings for tests: a simulated VideoGen that processes in tens of milliseconds. */
export const FAST: LocalRuntimeOptions = {
  simulator: {
    processingMs: 60,
    playbackMs: 30,
    analysisMs: 30,
    deliveryRetryDelaysMs: [50, 100, 200],
    // A cold environment on a loaded test machine can take seconds to answer; real senders wait ~15 s.
    deliveryTimeoutMs: 10_000,
    seed: 1,
  },
  pollAfterSeconds: 2,
  maxWaitSeconds: 60,
  retryPauseMs: 20,
  // The starter's queue gathers for 100 ms instead of its deployed second (sqs-queue.test.ts runs the deployed one).
  maxBatchingWindowMs: 100,
  handlerLogLevel: process.env.POWERTOOLS_LOG_LEVEL ?? 'SILENT',
};

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function startRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  return LocalRuntime.start({ ...FAST, ...options, simulator: { ...FAST.simulator, ...options.simulator } });
}

/**
 * Drops the files, waits until every workflow has ended, and answers their records by key.
 * `idleTimeoutMs`: how long the queues may take to drain (`runtime.idle`'s 120 s by default).
 */
export async function ingestAll(
  runtime: LocalRuntime,
  files: Record<string, { body: Buffer; metadata?: Record<string, string> }>,
  { idleTimeoutMs }: { readonly idleTimeoutMs?: number } = {},
): Promise<Record<string, IngestRecord>> {
  for (const [key, file] of Object.entries(files)) {
    await runtime.drop(key, file.body, file.metadata ? { metadata: file.metadata } : {});
  }
  const deadline = Date.now() + 60_000;
  for (;;) {
    await runtime.idle(idleTimeoutMs);
    const records = await runtime.records();
    if (
      Object.keys(files).every((key) => records.some((record) => record.key === key)) ||
      Date.now() > deadline
    ) {
      return Object.fromEntries(records.map((record) => [record.key, record]));
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** What the simulator received for a record's file: its bytes' size and hash. */
export function receivedBy(
  runtime: LocalRuntime,
  record: IngestRecord | undefined,
): { bytes: number; sha256: string } | undefined {
  if (!record?.fileId) return undefined;
  return runtime.simulator?.file(record.fileId)?.received;
}

/** The workflow execution of a dropped key (its name starts with the key's readable name). */
export function executionOf(runtime: LocalRuntime, key: string) {
  const prefix = `${readableExecutionName(key)}-`;
  return runtime.stepFunctions.executions().find((execution) => execution.name.startsWith(prefix));
}

type TemplateEdit = NonNullable<LocalRuntimeOptions['editTemplate']>;

/**
 * The transfer worker's time limit and its queue's visibility timeout shortened together,
 * as deployed relative to each other (visibility = time limit + 1 minute there): a crashed
 * worker's message comes back, and its lease on the record ends, within seconds instead of
 * 16 minutes.
 */
export function shortTransferTimeouts(
  timeoutSeconds: number,
  visibilitySeconds = timeoutSeconds + 1,
): TemplateEdit {
  return (template) => {
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      const properties = resource.Properties ?? {};
      if (resource.Type === 'AWS::SQS::Queue' && /TransferQueue[0-9A-F]{8}$/.test(logicalId))
        properties.VisibilityTimeout = visibilitySeconds;
      if (resource.Type === 'AWS::Lambda::Function' && /Transfer[0-9A-F]{8}$/.test(logicalId)) {
        properties.Timeout = timeoutSeconds;
        const variables = (properties.Environment as { Variables: Record<string, unknown> }).Variables;
        variables.TRANSFER_VISIBILITY_SECONDS = String(visibilitySeconds);
      }
    }
  };
}
