/**
 * The functions run as Lambda runs them: each from its deployed bundle, in environments of
 * its own. Concurrent invocations of different functions must not share a logger, its
 * keys, or anything else of module scope: every log line names the function that wrote it.
 */
import { describe, expect, it } from 'vitest';
import { mp4, png } from '#local/media';
import { captureLogs } from '../helpers/log-capture.ts';
import { ingestAll, startRuntime } from '../helpers/runtime.ts';

/** Messages only one handler writes, by that handler. */
const WRITTEN_BY: Record<string, string> = {
  'S3 event handled': 'starter',
  'transfer answered': 'transfer',
  polled: 'poll',
  'webhook answered': 'webhook',
  'webhook registration': 'register-webhook',
};

describe('local function environments', () => {
  it('attribute every log line of a concurrent run to the function that wrote it', async () => {
    const logs = captureLogs();
    const runtime = await startRuntime({
      handlerLogLevel: 'INFO',
      pollAfterSeconds: 1,
      // Some webhooks lost, so polls run beside webhooks and transfers.
      simulator: { faults: [{ fault: 'drop_delivery', rate: 0.5 }], seed: 7 },
    });
    try {
      const files = Object.fromEntries(
        Array.from({ length: 24 }, (_, index) => [
          `attribution/${index}.${index % 2 ? 'png' : 'mp4'}`,
          { body: index % 2 ? png(index + 1, 2) : mp4() },
        ]),
      );
      const records = await ingestAll(runtime, files);
      expect(Object.values(records).filter((record) => record.key.startsWith('attribution/'))).toHaveLength(
        24,
      );
    } finally {
      await runtime.stop();
      logs.stop();
    }

    const lines = logs
      .text()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { message?: string; function_name?: string });
    const seen = new Map<string, Set<string>>();
    for (const line of lines) {
      const handler = line.message === undefined ? undefined : WRITTEN_BY[line.message];
      if (!handler || !line.function_name) continue;
      seen.set(line.message ?? '', (seen.get(line.message ?? '') ?? new Set()).add(line.function_name));
    }
    expect([...seen.keys()].sort()).toEqual(Object.keys(WRITTEN_BY).sort());
    for (const [message, names] of seen) {
      expect(
        [...names].map((name) => name.replace(/^videogen-ingest-[0-9a-f]+-/, '')),
        message,
      ).toEqual([WRITTEN_BY[message]]);
    }
    // Every function ran from its own environments, each cold-started at least once.
    const figures = runtime.lambdas.figures();
    for (const handler of ['starter', 'prepare', 'transfer', 'await-file', 'poll', 'webhook']) {
      expect(figures[handler]?.coldStarts, handler).toBeGreaterThan(0);
    }
  });
});

/** Metrics only one handler publishes, by that handler. */
const PUBLISHED_BY: Record<string, string> = {
  ExecutionsStarted: 'starter',
  BytesTransferred: 'transfer',
  TransferQueueTime: 'transfer',
  WebhookDeliveries: 'webhook',
};

describe('local function metrics', () => {
  it('land in the output of the function that published them, each blob with its own metrics only', async () => {
    const output: { handler: string; line: string }[] = [];
    const runtime = await startRuntime({
      publishMetrics: true,
      onFunctionOutput: (handler, line) => output.push({ handler, line }),
    });
    try {
      const files = Object.fromEntries(
        Array.from({ length: 12 }, (_, index) => [`metrics/${index}.png`, { body: png(index + 1, 2) }]),
      );
      await ingestAll(runtime, files);
      await runtime.simulator?.settled();
    } finally {
      await runtime.stop();
    }
    const publishedBy = new Map<string, Set<string>>();
    for (const { handler, line } of output) {
      if (!line.includes('"_aws"')) continue;
      const blob = JSON.parse(line) as {
        _aws: { CloudWatchMetrics: { Metrics: { Name: string }[] }[] };
        service?: string;
      };
      expect(blob.service).toBe('videogen-ingest');
      for (const { Name } of blob._aws.CloudWatchMetrics.flatMap((directive) => directive.Metrics)) {
        publishedBy.set(Name, (publishedBy.get(Name) ?? new Set()).add(handler));
      }
    }
    for (const [metric, handler] of Object.entries(PUBLISHED_BY)) {
      expect([...(publishedBy.get(metric) ?? [])], metric).toEqual([handler]);
    }
  });
});
