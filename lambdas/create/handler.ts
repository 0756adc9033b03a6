import { MetricUnit } from '@aws-lambda-powertools/metrics';
import * as z from 'zod/mini';
import { createDocumentClient } from '#shared/clients/dynamodb';
import { env, loadConfig, nonEmptyString } from '#shared/config';
import { countVideoGenError, logger, METRIC, metrics } from '#shared/powertools';
import { stepFunctionsTask } from '#shared/task-handler';
import { videoGenClientProvider } from '#shared/videogen-api';
import { createVideoGenFile } from './create.ts';

const config = loadConfig({
  TABLE_NAME: env.tableName,
  VIDEOGEN_API_URL: env.url,
  VIDEOGEN_API_KEY_SECRET: env.secretArn,
  MAX_UPLOAD_URL_ATTEMPTS: env.positiveInt,
});
const deps = {
  store: { client: createDocumentClient(), tableName: config.TABLE_NAME },
  videoGen: videoGenClientProvider(config.VIDEOGEN_API_URL, config.VIDEOGEN_API_KEY_SECRET),
  maxAttempts: config.MAX_UPLOAD_URL_ATTEMPTS,
  now: () => new Date().toISOString(),
};

export const handler = stepFunctionsTask(z.object({ pk: nonEmptyString() }), async (input, context) => {
  const output = await createVideoGenFile(
    {
      ...deps,
      retry: {
        budgetMs: () => context.getRemainingTimeInMillis() - 5000,
        onRetry: (error) => {
          countVideoGenError(error);
          logger.warn('VideoGen create retried', { errorName: error.name, status: error.status });
        },
      },
    },
    input,
  );
  logger.appendKeys({ fileId: output.fileId });
  logger.info('VideoGen file created');
  metrics.addMetric(METRIC.filesCreated, MetricUnit.Count, 1);
  return output;
});
