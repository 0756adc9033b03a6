import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context, LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import { createDocumentClient } from '#shared/clients/dynamodb';
import { createSfnClient } from '#shared/clients/sfn';
import { loadConfig } from '#shared/config';
import { ENVIRONMENTS } from '#shared/environments';
import {
  countWebhookDelivery,
  logger,
  METRIC,
  metrics,
  publishMetrics,
  recordFileReady,
} from '#shared/powertools';
import { createSecretsProvider, readSigningSecrets } from '#shared/videogen/provider';
import { createRefreshingVerifier } from '#shared/videogen/webhooks';
import { handleDelivery, respond } from './webhook.ts';

const config = loadConfig(ENVIRONMENTS.webhook);
const deps = {
  store: { client: createDocumentClient(), tableName: config.TABLE_NAME },
  sfn: createSfnClient(),
  onFileReady: recordFileReady,
};
const secrets = createSecretsProvider();

/** One `webhook-id` is processed once: later copies get the stored answer (Powertools Idempotency). */
const idempotencyConfig = new IdempotencyConfig({
  eventKeyJmesPath: 'webhookId',
  expiresAfterSeconds: 7 * 24 * 3600,
});
const processOnce = makeIdempotent(
  (delivery: Parameters<typeof handleDelivery>[1]) => handleDelivery(deps, delivery),
  {
    persistenceStore: new DynamoDBPersistenceLayer({
      tableName: config.TABLE_NAME,
      awsSdkV3Client: new DynamoDBClient({}),
      keyAttr: 'pk',
      expiryAttr: 'expiresAt',
      // `status` is the ingest records' attribute (and a GSI key): keep dedupe items out of it.
      statusAttr: 'deliveryStatus',
    }),
    config: idempotencyConfig,
  },
);

/** Verifies with the secrets in Secrets Manager (cached by Powertools; read afresh after a failure, at most once a minute). */
const verify = createRefreshingVerifier(({ forceFetch }) =>
  readSigningSecrets(secrets, config.WEBHOOK_SECRET, forceFetch ? { forceFetch } : {}),
);

export const handler = async (
  event: LambdaFunctionURLEvent,
  context: Context,
): Promise<LambdaFunctionURLResult> => {
  logger.addContext(context);
  idempotencyConfig.registerLambdaContext(context);
  try {
    return await respond(
      {
        verify,
        process: processOnce,
        now: () => new Date().toISOString(),
        onResult: ({ statusCode, reason, error }) => {
          countWebhookDelivery(reason);
          if (reason === 'signature') metrics.addMetric(METRIC.webhookSignatureFailures, MetricUnit.Count, 1);
          if (reason === 'unknown-file') metrics.addMetric(METRIC.webhookUnknownFiles, MetricUnit.Count, 1);
          const log =
            statusCode >= 500
              ? logger.error.bind(logger)
              : statusCode >= 400
                ? logger.warn.bind(logger)
                : logger.info.bind(logger);
          log('webhook answered', { statusCode, reason, ...(error === undefined ? {} : { error }) });
        },
      },
      {
        method: event.requestContext.http.method,
        headers: event.headers,
        body: event.body,
        isBase64Encoded: event.isBase64Encoded,
      },
    );
  } finally {
    publishMetrics();
  }
};
