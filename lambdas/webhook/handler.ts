import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import { createDocumentClient } from '#shared/clients/dynamodb';
import { createSfnClient } from '#shared/clients/sfn';
import { createSourceFinder } from '#shared/ingest/file-pointers';
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
const store = { client: createDocumentClient(), tableName: config.TABLE_NAME };
const deps = {
  store,
  findSource: createSourceFinder(store),
  sfn: createSfnClient(),
  onFileReady: recordFileReady,
};
const secrets = createSecretsProvider();

/** Verifies with the secrets in Secrets Manager (cached by Powertools; read afresh after a failure, at most once a minute). */
const verify = createRefreshingVerifier(({ forceFetch }) =>
  readSigningSecrets(secrets, config.WEBHOOK_SECRET, forceFetch ? { forceFetch } : {}),
);

export const handler = async (
  event: LambdaFunctionURLEvent,
  context: Context,
): Promise<LambdaFunctionURLResult> => {
  logger.addContext(context);
  try {
    return await respond(
      {
        verify,
        process: (delivery) => handleDelivery(deps, delivery),
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
