import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { SQSBatchResponse, SQSEvent, SQSRecord, Context } from 'aws-lambda';
import { createSfnClient } from '#shared/clients/sfn';
import { loadConfig } from '#shared/config';
import { ENVIRONMENTS } from '#shared/environments';
import { parseSuffixes } from '#shared/drop-filter';
import { logger, METRIC, metrics, publishMetrics } from '#shared/powertools';
import { objectCreatedEventSchema, startIngest } from './starter.ts';

const config = loadConfig(ENVIRONMENTS.starter);
const deps = {
  sfn: createSfnClient(),
  stateMachineArn: config.STATE_MACHINE_ARN,
  filter: { prefix: config.DROP_PREFIX, suffixes: parseSuffixes(config.DROP_SUFFIXES) },
};
const processor = new BatchProcessor(EventType.SQS);

/** A malformed message throws: it is reported failed, retried, and lands in the DLQ. */
async function processRecord(record: SQSRecord): Promise<void> {
  const event = objectCreatedEventSchema.parse(JSON.parse(record.body));
  const outcome = await startIngest(deps, event);
  logger.info('S3 event handled', {
    outcome,
    bucket: event.detail.bucket.name,
    key: event.detail.object.key,
  });
  if (outcome === 'started') metrics.addMetric(METRIC.executionsStarted, MetricUnit.Count, 1);
  if (outcome === 'duplicate') metrics.addMetric(METRIC.duplicateEvents, MetricUnit.Count, 1);
}

export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  logger.addContext(context);
  try {
    return await processPartialResponse(event, processRecord, processor, { context });
  } finally {
    publishMetrics();
  }
};
