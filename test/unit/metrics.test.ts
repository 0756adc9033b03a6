/**
 * The metrics the handlers publish, as CloudWatch receives them (EMF on stdout): the names,
 * units and dimensions the construct's dashboard and alarms read.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { METRIC_NAMESPACE } from '#shared/metric-names';
import { captureLogs } from '../helpers/log-capture.ts';

interface Emf {
  _aws: {
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [field: string]: unknown;
}

let powertools: typeof import('#shared/powertools');
let errors: typeof import('#shared/videogen/errors');
beforeAll(async () => {
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  vi.stubEnv('POWERTOOLS_SERVICE_NAME', 'Stack/Ingest');
  vi.resetModules();
  powertools = await import('#shared/powertools');
  // The same module instance the handlers' code sees after the reset.
  errors = await import('#shared/videogen/errors');
});
afterAll(() => {
  vi.unstubAllEnvs();
});

function published(run: () => void): Emf[] {
  const capture = captureLogs();
  try {
    run();
  } finally {
    capture.stop();
  }
  return capture
    .text()
    .split('\n')
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as Emf);
}

describe('published metrics', () => {
  it('counts webhook deliveries by outcome, under the construct service', () => {
    const [emf] = published(() => powertools.countWebhookDelivery('signature'));
    expect(emf?._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: METRIC_NAMESPACE,
      Dimensions: [expect.arrayContaining(['service', 'outcome'])],
      Metrics: [{ Name: 'WebhookDeliveries', Unit: 'Count' }],
    });
    expect(emf).toMatchObject({ service: 'Stack/Ingest', outcome: 'signature', WebhookDeliveries: 1 });
  });

  it('counts VideoGen errors by code, and nothing for other errors', () => {
    const error = new errors.VideoGenRateLimitedError('slow down', 2, { status: 429, code: 'rate_limited' });
    const [emf] = published(() => powertools.countVideoGenError(error));
    expect(emf).toMatchObject({ code: 'rate_limited', VideoGenErrors: 1 });
    expect(published(() => powertools.countVideoGenError(new Error('not VideoGen')))).toEqual([]);
  });

  it('records a ready file with its drop-to-READY latency', () => {
    const [emf] = published(() => {
      powertools.recordFileReady(1234);
      powertools.publishMetrics();
    });
    expect(emf?._aws.CloudWatchMetrics[0]?.Metrics).toEqual(
      expect.arrayContaining([
        { Name: 'FilesReady', Unit: 'Count' },
        { Name: 'DropToReadyLatency', Unit: 'Milliseconds' },
      ]),
    );
    expect(emf).toMatchObject({ service: 'Stack/Ingest', FilesReady: 1, DropToReadyLatency: 1234 });
  });
});
