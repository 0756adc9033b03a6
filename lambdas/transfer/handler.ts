import { MetricUnit } from '@aws-lambda-powertools/metrics';
import * as z from 'zod/mini';
import { createDocumentClient } from '#shared/clients/dynamodb';
import { createS3Client } from '#shared/clients/s3';
import { env, loadConfig, nonEmptyString } from '#shared/config';
import { countVideoGenError, logger, METRIC, metrics } from '#shared/powertools';
import { stepFunctionsTask } from '#shared/task-handler';
import { uploadToPresignedUrl } from '#shared/videogen/upload';
import { UploadUrlExpiredError } from '#shared/videogen/errors';
import { transfer } from './transfer.ts';

const config = loadConfig({ TABLE_NAME: env.tableName });
const s3 = createS3Client();
const store = { client: createDocumentClient(), tableName: config.TABLE_NAME };
/** Stop this long before the Lambda's limit, so the failure is ours to report, not a timeout. */
const SAFETY_MARGIN_MS = 10_000;

const inputSchema = z.object({ pk: nonEmptyString(), fileId: nonEmptyString(), uploadUrl: z.url() });

export const handler = stepFunctionsTask(inputSchema, async (input, context) => {
  logger.appendKeys({ fileId: input.fileId });
  const signal = AbortSignal.timeout(Math.max(1000, context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS));
  try {
    const output = await transfer(
      {
        s3,
        store,
        upload: uploadToPresignedUrl,
        now: () => new Date().toISOString(),
        signal,
        retry: {
          budgetMs: () => context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS,
          onRetry: (error) => {
            countVideoGenError(error);
            logger.warn('transfer retried', { errorName: error.name, status: error.status });
          },
        },
      },
      input,
    );
    if (output.sent) metrics.addMetric(METRIC.bytesTransferred, MetricUnit.Bytes, output.bytes);
    logger.info('transfer done', { bytes: output.bytes, sent: output.sent });
    return output;
  } catch (error) {
    if (error instanceof UploadUrlExpiredError)
      metrics.addMetric(METRIC.uploadUrlsExpired, MetricUnit.Count, 1);
    throw error;
  }
});
