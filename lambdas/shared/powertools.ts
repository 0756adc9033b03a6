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
import { Metrics } from '@aws-lambda-powertools/metrics';

const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'videogen-ingest';

export const logger = new Logger({ serviceName });
export const metrics = new Metrics({
  serviceName,
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'VideoGenIngest',
});

/** Metric names are part of the operating contract (dashboards and alarms use them). */
export const METRIC = {
  executionsStarted: 'ExecutionsStarted',
  duplicateEvents: 'DuplicateS3Events',
  filesRejected: 'FilesRejected',
  filesCreated: 'FilesCreated',
  bytesTransferred: 'BytesTransferred',
  uploadUrlsExpired: 'UploadUrlsExpired',
  filesReady: 'FilesReady',
  filesFailed: 'FilesFailed',
  filesTimedOut: 'FilesTimedOut',
  webhookDeliveries: 'WebhookDeliveries',
  webhookSignatureFailures: 'WebhookSignatureFailures',
  webhookUnknownFiles: 'WebhookUnknownFiles',
  videoGenErrors: 'VideoGenErrors',
} as const;

/** Publishes what the invocation recorded; nothing (and no warning) when it recorded nothing. */
export function publishMetrics(): void {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
}
