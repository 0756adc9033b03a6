import { MetricUnit } from '@aws-lambda-powertools/metrics';
import * as z from 'zod/mini';
import { createDocumentClient } from '#shared/clients/dynamodb';
import { loadConfig, nonEmptyString } from '#shared/config';
import { ENVIRONMENTS } from '#shared/environments';
import { countVideoGenError, logger, METRIC, metrics, recordFileReady } from '#shared/powertools';
import { stepFunctionsTask } from '#shared/task-handler';
import { videoGenClientProvider } from '#shared/videogen/provider';
import { poll } from './poll.ts';

const config = loadConfig(ENVIRONMENTS.poll);
const deps = {
  store: { client: createDocumentClient(), tableName: config.TABLE_NAME },
  videoGen: videoGenClientProvider(config.VIDEOGEN_API_URL, config.VIDEOGEN_API_KEY_SECRET),
  maxWaitSeconds: config.MAX_WAIT_SECONDS,
  now: () => new Date(),
  onFileReady: recordFileReady,
};

const inputSchema = z.object({
  pk: nonEmptyString(),
  fileId: nonEmptyString(),
  uploadedAt: nonEmptyString(),
});

export const handler = stepFunctionsTask(inputSchema, async (input, context) => {
  logger.appendKeys({ fileId: input.fileId });
  const result = await poll(
    {
      ...deps,
      retry: { budgetMs: () => context.getRemainingTimeInMillis() - 3000, onRetry: countVideoGenError },
    },
    input,
  );
  logger.info('polled', { outcome: result.outcome, status: result.status });
  if (result.outcome === 'TIMED_OUT') metrics.addMetric(METRIC.filesTimedOut, MetricUnit.Count, 1);
  return result;
});
