/**
 * One place that configures Powertools' Logger and Metrics for every handler.
 * Handlers add correlation keys (`logger.appendKeys({ fileId })`), never format them in.
 *
 * No Powertools Tracer: it wraps the X-Ray SDK (with cls-hooked and semver, ~130 KiB and
 * ~10 ms of every cold start), which put the bundles over their 500 KiB budget. Lambda's
 * active tracing and the state machine's X-Ray tracing still show each invocation, its
 * duration and its errors in the execution's trace; what is given up is a subsegment per
 * AWS SDK call, which the Lambda duration and the Powertools metrics cover for operations.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { METRIC, METRIC_DIMENSION, METRIC_NAMESPACE } from './metric-names.ts';
import { VideoGenError } from './videogen/errors.ts';

const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'videogen-ingest';

export const logger = new Logger({ serviceName });
export const metrics = new Metrics({
  serviceName,
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRIC_NAMESPACE,
});

export { METRIC } from './metric-names.ts';

/** Publishes what the invocation recorded; nothing (and no warning) when it recorded nothing. */
export function publishMetrics(): void {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
}

/** One count with a dimension of its own, published at once (the invocation's other metrics keep theirs). */
function countBy(name: string, dimension: string, value: string): void {
  const single = metrics.singleMetric();
  single.addDimension(dimension, value);
  single.addMetric(name, MetricUnit.Count, 1);
}

export function countWebhookDelivery(outcome: string): void {
  countBy(METRIC.webhookDeliveries, METRIC_DIMENSION.outcome, outcome);
}

/** VideoGen errors by code, whether they were retried or ended the task. */
export function countVideoGenError(error: unknown): void {
  if (error instanceof VideoGenError)
    countBy(METRIC.videoGenErrors, METRIC_DIMENSION.code, error.code ?? error.name);
}

/** A file reached its readiness: counted, with how long it took from the drop. */
export function recordFileReady(dropToReadyMs: number): void {
  metrics.addMetric(METRIC.filesReady, MetricUnit.Count, 1);
  metrics.addMetric(METRIC.dropToReadyLatency, MetricUnit.Milliseconds, dropToReadyMs);
}
