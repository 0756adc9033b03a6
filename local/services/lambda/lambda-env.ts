import type { VariableName } from '../../../lambdas/shared/environments.ts';

/**
 * An environment like the one the construct gives the functions, so every handler's
 * configuration check passes when a bundle is loaded outside AWS (bundle tests, cold-start
 * benchmark). Its type asks for every variable of `lambdas/shared/environments.ts`.
 */
export const SAMPLE_LAMBDA_ENV: Readonly<Record<VariableName | 'AWS_REGION', string>> = {
  AWS_REGION: 'us-east-1',
  TABLE_NAME: 'table',
  READINESS: 'download',
  MAX_FILE_BYTES: '1024',
  VIDEOGEN_API_URL: 'https://api.videogen.io',
  VIDEOGEN_API_KEY_SECRET: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:key',
  MAX_UPLOAD_URL_ATTEMPTS: '3',
  MAX_TRANSFER_ATTEMPTS: '10',
  TRANSFER_VISIBILITY_SECONDS: '960',
  TRANSFER_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/transfers',
  MAX_WAIT_SECONDS: '3600',
  STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:sm',
  DROP_PREFIX: '',
  DROP_SUFFIXES: '',
  WEBHOOK_SECRET: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:hook',
};
