/**
 * One place that configures Powertools' Logger, Metrics and Tracer for every handler.
 * Handlers add correlation keys (`logger.appendKeys({ fileId })`), never format them in.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'videogen-ingest';

export const logger = new Logger({ serviceName });
export const metrics = new Metrics({
  serviceName,
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'VideoGenIngest',
});
export const tracer = new Tracer({ serviceName });

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
