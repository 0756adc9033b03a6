/**
 * The metrics' names and dimensions: part of the operating contract (the construct's
 * dashboard and alarms use them, and so may yours). Here, without Powertools, so the CDK
 * code reads the same names the handlers write.
 */
export const METRIC_NAMESPACE = 'VideoGenIngest';

export const METRIC = {
  executionsStarted: 'ExecutionsStarted',
  duplicateEvents: 'DuplicateS3Events',
  filesRejected: 'FilesRejected',
  bytesTransferred: 'BytesTransferred',
  /** Milliseconds a transfer message waited in the transfer queue (the admission cap at work). */
  transferQueueTime: 'TransferQueueTime',
  /** Transfer messages put back in the queue: a shared VideoGen pause (429) or a transient error. */
  transfersDeferred: 'TransfersDeferred',
  filesReady: 'FilesReady',
  /** Milliseconds from the ingest record's creation (the drop) to readiness. */
  dropToReadyLatency: 'DropToReadyLatency',
  filesFailed: 'FilesFailed',
  filesTimedOut: 'FilesTimedOut',
  /** With the `outcome` dimension: recorded, unknown-file, signature, payload, too-large, method, error. */
  webhookDeliveries: 'WebhookDeliveries',
  webhookSignatureFailures: 'WebhookSignatureFailures',
  webhookUnknownFiles: 'WebhookUnknownFiles',
  /** With the `code` dimension: VideoGen's `error.code`, or the error's name when it gave none. */
  videoGenErrors: 'VideoGenErrors',
  /** A webhook endpoint (or its secret) that a stack deletion or update could not clean up, and let go. */
  webhookCleanupFailures: 'WebhookCleanupFailures',
} as const;

export const METRIC_DIMENSION = {
  /** Every metric has it: one value per deployed construct (its `metricsService`). */
  service: 'service',
  outcome: 'outcome',
  code: 'code',
} as const;
