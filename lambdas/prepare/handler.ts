import { MetricUnit } from '@aws-lambda-powertools/metrics';
import * as z from 'zod/mini';
import { createDocumentClient } from '#shared/clients/dynamodb';
import { createS3Client } from '#shared/clients/s3';
import { loadConfig, nonEmptyString } from '#shared/config';
import { ENVIRONMENTS } from '#shared/environments';
import { METRIC, metrics } from '#shared/powertools';
import { stepFunctionsTask } from '#shared/task-handler';
import { prepare } from './prepare.ts';

const config = loadConfig(ENVIRONMENTS.prepare);
const deps = {
  s3: createS3Client(),
  store: { client: createDocumentClient(), tableName: config.TABLE_NAME },
  readiness: config.READINESS,
  maxFileBytes: config.MAX_FILE_BYTES,
  now: () => new Date().toISOString(),
};

const inputSchema = z.object({
  source: z.object({
    bucket: nonEmptyString(),
    key: nonEmptyString(),
    versionId: z.nullable(z.string()),
    etag: z.nullable(z.string()),
  }),
  executionArn: nonEmptyString(),
});

export const handler = stepFunctionsTask(inputSchema, async (input) => {
  const output = await prepare(deps, input);
  if (output.outcome === 'REJECTED') metrics.addMetric(METRIC.filesRejected, MetricUnit.Count, 1);
  return output;
});
