/**
 * The package's entry point for CDK apps: `import { VideoGenIngest } from 'videogen-ingest'`.
 *
 * @module videogen-ingest
 */
export { VideoGenIngest, type SubscriberOptions, type VideoGenIngestProps } from './videogen-ingest.ts';
export { VideoGenIngestStack, type VideoGenIngestStackProps } from './videogen-ingest-stack.ts';
export { IngestMonitoring, type IngestMonitoringProps } from './ingest-monitoring.ts';
export type { WebhookEndpoint, WebhookThrottle } from './webhook-endpoint.ts';
export { METRIC, METRIC_DIMENSION, METRIC_NAMESPACE } from '../lambdas/shared/metric-names.ts';
