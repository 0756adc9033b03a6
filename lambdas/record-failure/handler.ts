import { MetricUnit } from '@aws-lambda-powertools/metrics';
import * as z from 'zod/mini';
import { createDocumentClient } from '#shared/clients/dynamodb';
import { loadConfig } from '#shared/config';
import { ENVIRONMENTS } from '#shared/environments';
import { logger, METRIC, metrics } from '#shared/powertools';
import { stepFunctionsTask } from '#shared/task-handler';
import { recordFailure } from './record-failure.ts';

const config = loadConfig(ENVIRONMENTS['record-failure']);
const deps = {
  store: { client: createDocumentClient(), tableName: config.TABLE_NAME },
  readiness: config.READINESS,
  now: () => new Date().toISOString(),
};

const inputSchema = z.object({
  source: z.object({
    bucket: z.string(),
    key: z.string(),
    versionId: z.nullable(z.string()),
    etag: z.nullable(z.string()),
  }),
  pk: z.nullish(z.string()),
  error: z.object({ Error: z.string(), Cause: z.nullish(z.string()) }),
  executionArn: z.string(),
});

export const handler = stepFunctionsTask(inputSchema, async (input) => {
  const result = await recordFailure(deps, input);
  logger.warn('ingest failed', { errorCode: input.error.Error, status: result.status });
  if (result.status === 'FAILED') metrics.addMetric(METRIC.filesFailed, MetricUnit.Count, 1);
  return result;
});
