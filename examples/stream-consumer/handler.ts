/**
 * Subscribe it with `ingest.addSubscriber(fn, { statuses: ['READY'] })`. Records that fail
 * are reported one by one (partial batch response): the rest of the batch is not retried.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { DynamoDBRecord, DynamoDBStreamEvent, Context } from 'aws-lambda';
import { ingestChangeOf } from '../../lambdas/shared/ingest/stream.ts';
import { env, loadConfig } from '../../lambdas/shared/config.ts';
import { logger } from '../../lambdas/shared/powertools.ts';
import { announce } from './catalog.ts';

const config = loadConfig({ CATALOG_URL: env.url });

/** The catalog refused the entry; the record is retried, then sent to the on-failure queue. */
export class CatalogError extends Error {
  override readonly name = 'CatalogError';
}

async function publish(entry: unknown): Promise<void> {
  const response = await fetch(config.CATALOG_URL, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(entry),
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) throw new CatalogError(`catalog answered ${response.status}`);
}

const processor = new BatchProcessor(EventType.DynamoDBStreams);

async function processRecord(record: DynamoDBRecord): Promise<void> {
  const change = ingestChangeOf(record);
  if (change && (await announce({ publish }, change))) {
    logger.info('announced to the catalog', { fileId: change.current?.fileId });
  }
}

export const handler = async (event: DynamoDBStreamEvent, context: Context) =>
  processPartialResponse(event, processRecord, processor, { context });
