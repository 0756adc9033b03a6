import { randomUUID } from 'node:crypto';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { ChangeMessageVisibilityCommand } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import * as z from 'zod/mini';
import { createDocumentClient } from '#shared/clients/dynamodb';
import { createS3Client } from '#shared/clients/s3';
import { createSfnClient } from '#shared/clients/sfn';
import { createSqsClient } from '#shared/clients/sqs';
import { loadConfig, nonEmptyString } from '#shared/config';
import { ENVIRONMENTS } from '#shared/environments';
import { ApiPauseView } from '#shared/ingest/api-pause';
import { completeTask, failTask } from '#shared/ingest/resume';
import { countVideoGenError, logger, METRIC, metrics, publishMetrics } from '#shared/powertools';
import { videoGenClientProvider } from '#shared/videogen/provider';
import { uploadToPresignedUrl } from '#shared/videogen/upload';
import { hiddenForTheInvocation } from './visibility.ts';
import { processTransferMessage, type TransferDisposition } from './worker.ts';

const config = loadConfig(ENVIRONMENTS.transfer);
const s3 = createS3Client();
const sfn = createSfnClient();
const sqs = createSqsClient();
const store = { client: createDocumentClient(), tableName: config.TABLE_NAME };
const apiPause = new ApiPauseView(store);
const videoGen = videoGenClientProvider(config.VIDEOGEN_API_URL, config.VIDEOGEN_API_KEY_SECRET);
/** Stop this long before the Lambda's limit, so the failure is ours to report, not a timeout. */
const SAFETY_MARGIN_MS = 10_000;

const messageSchema = z.object({ pk: nonEmptyString(), taskToken: nonEmptyString() });

async function handleRecord(record: SQSRecord, context: Context): Promise<TransferDisposition> {
  const parsed = messageSchema.safeParse(JSON.parse(record.body));
  // Only the workflow writes this queue: a malformed message is a bug, kept for the DLQ.
  if (!parsed.success) throw new Error(`malformed transfer message ${record.messageId}`);
  const { pk, taskToken } = parsed.data;
  logger.appendKeys({ pk });
  // The visibility timeout counts from the receive, not from this start (a throttled
  // invocation starts late): start it again now, so no copy comes back while this works,
  // unless what is left of it outlasts this invocation anyway.
  if (
    !hiddenForTheInvocation(record.attributes, config.TRANSFER_VISIBILITY_SECONDS, {
      now: Date.now(),
      remainingMs: context.getRemainingTimeInMillis(),
    })
  )
    await setVisibility(record, config.TRANSFER_VISIBILITY_SECONDS);
  const queuedMs = Date.now() - Number(record.attributes.SentTimestamp);
  if (Number.isFinite(queuedMs))
    metrics.addMetric(METRIC.transferQueueTime, MetricUnit.Milliseconds, queuedMs);
  const budgetMs = () => context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS;
  const disposition = await processTransferMessage(
    {
      s3,
      store,
      videoGen,
      upload: uploadToPresignedUrl,
      answers: {
        succeed: (token, output) => completeTask(sfn, token, output),
        fail: (token, error) => failTask(sfn, token, error),
      },
      pause: apiPause,
      maxUploadUrlAttempts: config.MAX_UPLOAD_URL_ATTEMPTS,
      maxAttempts: config.MAX_TRANSFER_ATTEMPTS,
      invocationId: randomUUID(),
      budgetMs,
      deadlineMs: () => Date.now() + context.getRemainingTimeInMillis(),
      signal: AbortSignal.timeout(Math.max(1000, budgetMs())),
      onRetry: (error) => {
        countVideoGenError(error);
        logger.warn('VideoGen call retried', { errorName: error.name, status: error.status });
      },
    },
    { pk, taskToken },
  );
  return disposition;
}

/** Hides the message for `seconds` from now; best effort (the queue's own timeout applies otherwise). */
async function setVisibility(record: SQSRecord, seconds: number): Promise<void> {
  await sqs
    .send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: config.TRANSFER_QUEUE_URL,
        ReceiptHandle: record.receiptHandle,
        VisibilityTimeout: seconds,
      }),
    )
    .catch((error: unknown) => logger.warn('could not change the message visibility', { error }));
}

/**
 * The transfer queue's consumer (batch size 1). A message to retry stays in the queue,
 * hidden for as long as the disposition says (a 429's `Retry-After`, or a backoff), and is
 * reported as this batch's failure; every other message is deleted.
 */
export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  logger.addContext(context);
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  try {
    for (const record of event.Records) {
      const disposition = await handleRecord(record, context);
      if (disposition.kind === 'answered') {
        logger.info('transfer answered', { outcome: disposition.outcome, error: disposition.error });
        if (disposition.bytesSent !== undefined)
          metrics.addMetric(METRIC.bytesTransferred, MetricUnit.Bytes, disposition.bytesSent);
        continue;
      }
      logger.warn('transfer deferred', {
        afterSeconds: disposition.afterSeconds,
        reason: disposition.reason,
      });
      metrics.addMetric(METRIC.transfersDeferred, MetricUnit.Count, 1);
      batchItemFailures.push({ itemIdentifier: record.messageId });
      // The message then returns after the queue's own visibility timeout if this fails.
      await setVisibility(record, disposition.afterSeconds);
    }
    return { batchItemFailures };
  } finally {
    publishMetrics();
    logger.resetKeys();
  }
};
