import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { loadConfig } from '#shared/config';
import { ENVIRONMENTS } from '#shared/environments';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logger, METRIC, metrics, publishMetrics } from '#shared/powertools';
import { videoGenClientProvider } from '#shared/videogen/provider';
import { onEvent, type CustomResourceResult } from './register-webhook.ts';

const config = loadConfig(ENVIRONMENTS['register-webhook']);
const deps = {
  videoGen: videoGenClientProvider(config.VIDEOGEN_API_URL, config.VIDEOGEN_API_KEY_SECRET),
  secrets: new SecretsManagerClient({}),
  onCleanupFailure: (step: string, error: unknown) => {
    logger.warn('webhook registration cleanup failed; the stack goes on', { step, error });
    metrics.addMetric(METRIC.webhookCleanupFailures, MetricUnit.Count, 1);
  },
};

/** Called by the CDK custom-resource Provider framework, which answers CloudFormation. */
export const handler = async (
  event: CloudFormationCustomResourceEvent,
  context: Context,
): Promise<CustomResourceResult> => {
  logger.addContext(context);
  logger.info('webhook registration', { requestType: event.RequestType });
  try {
    return await onEvent(deps, event);
  } finally {
    publishMetrics();
  }
};
